package scenario

// The decoder walks the Scenario struct by reflection alongside the YAML
// tree (go.yaml.in/yaml/v3 nodes). Its contract:
//
//   - A field's name is its yaml struct tag, and the decoder writes it
//     nowhere else: the tag is the key a mapping holds the field under, a
//     name in the known-fields list of an unknown-field error, and a step
//     of the path (faults[2].crash) that the decoder's messages name and
//     that it records the field under for validation. Every field of a
//     struct the decoder reaches must have one.
//   - A struct is a mapping. Its keys are checked first, in file order: a
//     key that is not a plain word, a merge key (<<), an unknown key or a
//     key given twice is an error. Then its present values are decoded in
//     the order of the struct's fields. A null value is an absent key.
//   - A struct starts out as its type's entry in defaults (scenario.go),
//     or zero, and so does every struct nested in it, present or not;
//     the fields present then replace their defaults. Defaults that depend
//     on other fields are written in by validation (validate.go), which
//     asks has whether a field was given.
//   - A type with a syntax of its own implements decodable (Duration,
//     Bandwidth, Endpoint), which the decoder asks before looking at the
//     kind. Otherwise a string, int, uint64, float64 or bool is a scalar
//     of that type; a pointer is an optional value, nil when absent; and a
//     slice is a list, bounded and described in messages by its listSpecs
//     entry, read as nil when empty.
//   - The value node of every present field, and of every list entry that
//     is a struct, is recorded under its path (d.at), for has and for
//     locating the errors validation finds later.
//   - Every value visited is charged against maxValues, again for each use
//     of an alias, and the first error ends the decode.
//   - A field tagged replaces:"F" is another way of writing its sibling
//     F (nodes and weights): an override of the one removes the other from
//     the tree (override.go).
//
// So the decoder learns a new field from its line in the struct; a static
// default is a value in the struct's defaults entry, and checks go in
// validate.go. Only a new slice type needs a listSpecs entry, and only a
// new syntax a decodeYAML method.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// maxValues bounds how many YAML values one decode visits. Without aliases a
// file within MaxFileSize holds far fewer; with them a small file can name a
// huge tree ("billion laughs"), and this is what stops it.
const maxValues = 1 << 20

// Load reads a scenario file and parses it; see Parse.
func Load(path string, overrides ...Override) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, the limit for a scenario file", path, MaxFileSize)
	}
	return Parse(data, path, overrides...)
}

// Parse decodes, completes and validates a scenario. name is the file it
// came from, for messages. Overrides are applied in order to the YAML tree
// before decoding: each navigates mappings by its dotted key, creating the
// ones that are missing, and puts its value there as a plain scalar, so
// "0.05" reads as a number and "2s" as a duration; an empty value removes
// the field, leaving its default. Overriding nodes removes weights and
// overriding weights removes nodes.
//
// Every error names the file and, where it has one, the line or the
// override the bad value came from.
func Parse(data []byte, name string, overrides ...Override) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, the limit for a scenario file", name, MaxFileSize)
	}
	if len(overrides) > MaxOverrides {
		return nil, fmt.Errorf("%s: %d overrides, at most %d allowed", name, len(overrides), MaxOverrides)
	}
	top, err := parseTree(data, name)
	if err != nil {
		return nil, err
	}
	d := &decoder{
		name:   name,
		budget: maxValues,
		set:    make(map[*yaml.Node]string),
		at:     make(map[string]*yaml.Node),
	}
	for _, o := range overrides {
		if err := d.override(top, o); err != nil {
			return nil, err
		}
	}
	s := &Scenario{}
	if err := d.value(top, reflect.ValueOf(s).Elem(), ""); err != nil {
		return nil, err
	}
	if err := d.complete(s); err != nil {
		return nil, err
	}
	return s, nil
}

// parseTree reads exactly one YAML document whose top level is a mapping.
func parseTree(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty document; a scenario needs at least name, duration and nodes", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	default:
		return nil, fmt.Errorf("%s: line %d: a second YAML document; a scenario file holds one", name, next.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s: empty document; a scenario needs at least name, duration and nodes", name)
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil, fmt.Errorf("%s: empty document; a scenario needs at least name, duration and nodes", name)
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: the top level must be a mapping of fields (name: ..., duration: ...), not %s",
			name, top.Line, describe(top))
	}
	return top, nil
}

// decoder turns the YAML tree into a Scenario and then completes it
// (validate.go).
type decoder struct {
	name   string
	budget int // values left to visit; see maxValues
	// set maps the nodes an override inserted to the override, so errors
	// about them point at the command line rather than at line 0.
	set map[*yaml.Node]string
	// at maps the path of every field present (faults[2].crash) to its
	// value node: presence decides defaults, and the node locates errors
	// found after decoding.
	at   map[string]*yaml.Node
	mark []bool // scratch for duplicate checks, len Nodes once known
	// slots is the partition check's scratch; see partitionScratch.
	slots []int
	// roles holds each node's roleByzantine and roleTwin, once the
	// byzantine entries are checked.
	roles []uint8
}

func (d *decoder) where(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if o, ok := d.set[n]; ok {
		return "--set " + clip(o) + ": "
	}
	if n.Line > 0 {
		return "line " + strconv.Itoa(n.Line) + ": "
	}
	return ""
}

// errorf formats an error located at n (which may be nil).
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s: %s"+format, append([]any{d.name, d.where(n)}, args...)...)
}

// has reports whether the field at path was given (and not null).
func (d *decoder) has(path string) bool {
	_, ok := d.at[path]
	return ok
}

// node finds the value node of path or, failing that, of its closest
// present ancestor, so a defaulted field's error points at its section.
func (d *decoder) node(path string) *yaml.Node {
	for p := path; p != ""; p = parent(p) {
		if n, ok := d.at[p]; ok {
			return n
		}
	}
	return nil
}

// errAt formats an error located at path.
func (d *decoder) errAt(path string, format string, args ...any) error {
	return d.errorf(d.node(path), format, args...)
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// label is how messages name the section at path.
func label(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// deref follows an alias and charges one value against the budget.
func (d *decoder) deref(n *yaml.Node) (*yaml.Node, error) {
	d.budget--
	if d.budget < 0 {
		return nil, d.errorf(n, "more than %d values, counting each use of an alias; simplify the file", maxValues)
	}
	// An anchor cannot be put on an alias, so one step reaches a value.
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias, nil
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decodable is a type with its own syntax. n has been through deref; path
// names the value in messages.
type decodable interface {
	decodeYAML(d *decoder, n *yaml.Node, path string) error
}

// listSpec is what a list of one type may hold: at most limit entries, of
// the kind want names in messages.
type listSpec struct {
	limit int
	want  string
}

// maxGroupSize bounds one partition group: every node, and every node's
// twin.
const maxGroupSize = 2 * MaxNodes

var listSpecs = map[reflect.Type]listSpec{
	reflect.TypeFor[[]int]():        {MaxNodes, "node indices"},
	reflect.TypeFor[[]uint64]():     {MaxNodes, "weights"},
	reflect.TypeFor[[]string]():     {MaxRegions, "region names"},
	reflect.TypeFor[[]Link]():       {MaxLinks, "link overrides"},
	reflect.TypeFor[[]Byzantine]():  {MaxByzantine, "byzantine entries"},
	reflect.TypeFor[[]Fault]():      {MaxFaults, "faults"},
	reflect.TypeFor[[][]Endpoint](): {MaxNodes, "groups of node indices"},
	reflect.TypeFor[[]Endpoint]():   {maxGroupSize, "node indices and twin references such as {twin: 0}"},
}

// value decodes n, which has been through deref, into v.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) error {
	if c, ok := v.Addr().Interface().(decodable); ok {
		return c.decodeYAML(d, n, path)
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.structure(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := d.value(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Slice:
		return d.list(n, v, path)
	case reflect.String:
		x, err := d.str(n, path)
		v.SetString(x)
		return err
	case reflect.Int:
		x, err := d.integer(n, path)
		v.SetInt(int64(x))
		return err
	case reflect.Uint64:
		x, err := d.uinteger(n, path)
		v.SetUint(x)
		return err
	case reflect.Float64:
		x, err := d.number(n, path)
		v.SetFloat(x)
		return err
	case reflect.Bool:
		x, err := d.boolean(n, path)
		v.SetBool(x)
		return err
	}
	panic("scenario: no decoder for " + v.Type().String())
}

// structure decodes a mapping into the struct v; see the contract above.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) error {
	info := structOf(v.Type())
	n, err := d.deref(n)
	if err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "%s: expected a mapping (%s: ...), got %s", label(path), info.fields[0].name, describe(n))
	}
	// keys and vals are by field: its key node and non-null value node.
	keys := make([]*yaml.Node, len(info.fields))
	vals := make([]*yaml.Node, len(info.fields))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return d.errorf(k, "%s: a field name must be a plain word, not %s", label(path), describe(k))
		}
		if k.ShortTag() == "!!merge" {
			return d.errorf(k, "%s: merge keys (<<) are not supported; write the fields out (aliases such as *name are fine)", label(path))
		}
		f := info.lookup(k.Value)
		if f < 0 {
			in := "in " + path
			if path == "" {
				in = "at the top level"
			}
			return d.errorf(k, "unknown field %q %s (known: %s)", clip(k.Value), in, info.known)
		}
		if keys[f] != nil {
			return d.errorf(k, "%s: field %q given twice (first on line %d)", label(path), k.Value, keys[f].Line)
		}
		keys[f] = k
		val, err := d.deref(n.Content[i+1])
		if err != nil {
			return err
		}
		if !isNull(val) {
			vals[f] = val
			d.at[join(path, k.Value)] = val
		}
	}
	info.reset(v)
	for i, f := range info.fields {
		if vals[i] != nil {
			if err := d.value(vals[i], v.Field(f.index), join(path, f.name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// list decodes a sequence into the slice v. An entry that is a struct is
// recorded under its path, so that later errors about it point at it.
func (d *decoder) list(n *yaml.Node, v reflect.Value, path string) error {
	spec, ok := listSpecs[v.Type()]
	if !ok {
		panic("scenario: no listSpecs entry for " + v.Type().String())
	}
	if n.Kind != yaml.SequenceNode {
		return d.errorf(n, "%s: expected a list of %s, got %s", path, spec.want, describe(n))
	}
	if len(n.Content) > spec.limit {
		return d.errorf(n, "%s: %d entries, at most %d allowed", path, len(n.Content), spec.limit)
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return nil
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	entries := v.Type().Elem().Kind() == reflect.Struct
	for i, it := range n.Content {
		p := index(path, i)
		it, err := d.deref(it)
		if err != nil {
			return err
		}
		if entries {
			d.at[p] = it
		}
		if err := d.value(it, out.Index(i), p); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// structInfo is what the decoder knows of a struct type.
type structInfo struct {
	fields []fieldInfo
	known  string // the field names, for unknown-field errors
	// def is the type's entry in defaults, if it has one.
	def reflect.Value
}

type fieldInfo struct {
	name  string // from the yaml tag
	index int
	typ   reflect.Type
	// replaces is the name of the sibling an override of this field
	// removes; see the contract above.
	replaces string
}

var structInfos sync.Map // reflect.Type -> *structInfo

// defaultsByType indexes defaults.
var defaultsByType = func() map[reflect.Type]reflect.Value {
	m := make(map[reflect.Type]reflect.Value, len(defaults))
	for _, v := range defaults {
		m[reflect.TypeOf(v)] = reflect.ValueOf(v)
	}
	return m
}()

// structOf describes struct type t. A field without a yaml name, or a
// replaces tag naming no field, is a mistake in this package and panics.
func structOf(t reflect.Type) *structInfo {
	if info, ok := structInfos.Load(t); ok {
		return info.(*structInfo)
	}
	info := &structInfo{def: defaultsByType[t]}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			panic("scenario: field " + t.String() + "." + sf.Name + " has no yaml name")
		}
		info.fields = append(info.fields, fieldInfo{name: name, index: i, typ: sf.Type})
		names = append(names, name)
	}
	for i := range info.fields {
		f := &info.fields[i]
		if r, ok := t.Field(f.index).Tag.Lookup("replaces"); ok {
			sf, found := t.FieldByName(r)
			if !found {
				panic("scenario: " + t.String() + "." + t.Field(f.index).Name + " replaces a field it does not have: " + r)
			}
			f.replaces = info.fields[sf.Index[0]].name
		}
	}
	info.known = strings.Join(names, ", ")
	actual, _ := structInfos.LoadOrStore(t, info)
	return actual.(*structInfo)
}

// lookup returns the index of the field named name, -1 if none is.
func (s *structInfo) lookup(name string) int {
	return slices.IndexFunc(s.fields, func(f fieldInfo) bool { return f.name == name })
}

// field returns the field named name, nil if none is or s is nil.
func (s *structInfo) field(name string) *fieldInfo {
	if s == nil {
		return nil
	}
	if i := s.lookup(name); i >= 0 {
		return &s.fields[i]
	}
	return nil
}

// structInfo describes the struct f holds, directly or through a pointer;
// nil if it holds something else or f is nil.
func (f *fieldInfo) structInfo() *structInfo {
	if f == nil {
		return nil
	}
	t := f.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[decodable]()) {
		return nil
	}
	return structOf(t)
}

// reset sets v to its type's defaults, and every struct in it to its own.
func (s *structInfo) reset(v reflect.Value) {
	if !s.def.IsValid() {
		v.SetZero()
	} else {
		v.Set(s.def)
	}
	for _, f := range s.fields {
		fv := v.Field(f.index)
		switch {
		case fv.Kind() == reflect.Slice && !fv.IsNil():
			// A default list is copied, so that no two scenarios share it.
			fv.Set(reflect.AppendSlice(reflect.MakeSlice(fv.Type(), 0, fv.Len()), fv))
		case fv.Kind() == reflect.Struct:
			if inner := f.structInfo(); inner != nil {
				inner.reset(fv)
			}
		}
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) error {
	if n.Kind != yaml.ScalarNode {
		return d.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
	}
	return nil
}

func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	if err := d.scalar(n, path, "a string"); err != nil {
		return "", err
	}
	return n.Value, nil
}

func (d *decoder) integer(n *yaml.Node, path string) (int, error) {
	var v int
	if err := d.scalar(n, path, "an integer"); err != nil {
		return 0, err
	}
	if n.ShortTag() != "!!int" {
		return 0, d.errorf(n, "%s: %s is not an integer", path, describe(n))
	}
	if v, ok := canonicalInt(n.Value); ok {
		return v, nil
	}
	if n.Decode(&v) != nil {
		return 0, d.errorf(n, "%s: %s is not an integer", path, describe(n))
	}
	return v, nil
}

func (d *decoder) uinteger(n *yaml.Node, path string) (uint64, error) {
	var v uint64
	if err := d.scalar(n, path, "a non-negative integer"); err != nil {
		return 0, err
	}
	if n.ShortTag() != "!!int" {
		return 0, d.errorf(n, "%s: %s is not a non-negative integer", path, describe(n))
	}
	if v, err := strconv.ParseUint(n.Value, 10, 64); err == nil && strconv.FormatUint(v, 10) == n.Value {
		return v, nil
	}
	if n.Decode(&v) != nil {
		return 0, d.errorf(n, "%s: %s is not a non-negative integer", path, describe(n))
	}
	return v, nil
}

func (d *decoder) number(n *yaml.Node, path string) (float64, error) {
	var v float64
	if err := d.scalar(n, path, "a number"); err != nil {
		return 0, err
	}
	t := n.ShortTag()
	if t != "!!int" && t != "!!float" {
		return 0, d.errorf(n, "%s: %s is not a number", path, describe(n))
	}
	if i, ok := canonicalInt(n.Value); ok && t == "!!int" {
		return float64(i), nil
	}
	if v, err := strconv.ParseFloat(n.Value, 64); err == nil && t == "!!float" && plainNumber(n.Value) {
		return v, nil
	}
	if n.Decode(&v) != nil {
		return 0, d.errorf(n, "%s: %s is not a number", path, describe(n))
	}
	return v, nil
}

// canonicalInt reads an integer written as strconv writes it. Such plain
// decimals are nearly all of a large file's values, and strconv is far
// cheaper than yaml's reflection; every other spelling of an !!int (0x1f,
// 1_000, 017) is left to yaml, which reads some of them differently.
func canonicalInt(s string) (int, bool) {
	v, err := strconv.Atoi(s)
	return v, err == nil && strconv.Itoa(v) == s
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, error) {
	var v bool
	if err := d.scalar(n, path, "true or false"); err != nil {
		return false, err
	}
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		return false, d.errorf(n, "%s: %s is not true or false", path, describe(n))
	}
	return v, nil
}
