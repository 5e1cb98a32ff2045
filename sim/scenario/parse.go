package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxValues bounds how many YAML values one decode visits. Without aliases a
// file within MaxFileSize holds far fewer; with them a small file can name a
// huge tree ("billion laughs"), and this is what stops it.
const maxValues = 1 << 20

// Limits on overrides, which come from a command line but may be scripted.
const (
	MaxOverrides     = 1000
	maxOverrideKey   = 256
	maxOverrideValue = 64 << 10
)

// Override is one --set key=value from the command line: Key is a dotted
// path of field names (network.latency.max), Value a YAML scalar.
type Override struct{ Key, Value string }

func (o Override) String() string { return o.Key + "=" + o.Value }

// ParseOverride splits "key=value" at the first '='.
func ParseOverride(s string) (Override, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return Override{}, fmt.Errorf("--set %q: want key=value, e.g. network.drop=0.05", clip(s))
	}
	o := Override{Key: key, Value: value}
	if err := o.check(); err != nil {
		return Override{}, fmt.Errorf("--set %q: %w", clip(s), err)
	}
	return o, nil
}

func (o Override) check() error {
	if len(o.Value) > maxOverrideValue {
		return fmt.Errorf("value longer than %d bytes", maxOverrideValue)
	}
	key := o.Key
	if key == "" {
		return errors.New("empty key; write key=value, e.g. nodes=10")
	}
	if len(key) > maxOverrideKey {
		return fmt.Errorf("key longer than %d bytes", maxOverrideKey)
	}
	for part := range strings.SplitSeq(key, ".") {
		if part == "" {
			return fmt.Errorf("key %q has an empty part; write field names joined by dots, e.g. network.latency.max", clip(key))
		}
		for i := range len(part) {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("key %q: %q is not a field name; field names are words like leader_timeout", clip(key), clip(part))
			}
		}
	}
	return nil
}

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
	s := d.scenario(top)
	if d.err != nil {
		return nil, d.err
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

// decoder turns the YAML tree into a Scenario. It keeps the first error and
// ignores everything after it, so the decoding code reads straight through.
type decoder struct {
	name   string
	err    error
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

// fail records the first error.
func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	if d.err == nil {
		d.err = d.errorf(n, format, args...)
	}
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
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	d.budget--
	if d.budget < 0 && d.err == nil {
		d.err = d.errorf(n, "more than %d values, counting each use of an alias; simplify the file", maxValues)
	}
	// An anchor cannot be put on an alias, so one step reaches a value.
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// override applies one --set to the tree.
func (d *decoder) override(top *yaml.Node, o Override) error {
	origin := o.String()
	if err := o.check(); err != nil {
		return fmt.Errorf("%s: --set %s: %w", d.name, clip(origin), err)
	}
	parts := strings.Split(o.Key, ".")
	m := top
	// shared is set once the path reaches an anchored node: from there on
	// the nodes may also be reached through an alias, so they are copied
	// before being changed.
	shared := false
	for i, part := range parts {
		at := -1
		for j := 0; j+1 < len(m.Content); j += 2 {
			if k := m.Content[j]; k.Kind == yaml.ScalarNode && k.Value == part {
				at = j + 1
				break
			}
		}
		if i == len(parts)-1 {
			v := &yaml.Node{Kind: yaml.ScalarNode, Value: o.Value}
			v.Tag = v.ShortTag()
			d.set[v] = origin
			if at >= 0 {
				m.Content[at] = v
			} else {
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}
				d.set[k] = origin
				m.Content = append(m.Content, k, v)
			}
			if i == 0 && (part == "nodes" || part == "weights") {
				other := "nodes"
				if part == "nodes" {
					other = "weights"
				}
				for j := 0; j+1 < len(m.Content); {
					if m.Content[j].Value == other {
						m.Content = slices.Delete(m.Content, j, j+2)
					} else {
						j += 2
					}
				}
			}
			return nil
		}
		if at < 0 {
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}
			v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			d.set[k], d.set[v] = origin, origin
			m.Content = append(m.Content, k, v)
			m = v
			continue
		}
		child := m.Content[at]
		if child.Kind == yaml.AliasNode && child.Alias != nil {
			child = child.Alias
		}
		shared = shared || child.Anchor != ""
		switch {
		case isNull(child):
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			d.set[child] = origin
		case child.Kind != yaml.MappingNode:
			return fmt.Errorf("%s: --set %s: %s is %s, not a mapping of fields", d.name, clip(origin),
				strings.Join(parts[:i+1], "."), describe(child))
		case shared:
			c := *child
			c.Anchor = ""
			c.Content = slices.Clone(child.Content)
			child = &c
		}
		m.Content[at] = child
		m = child
	}
	return nil
}

// fields is a decoded mapping: its non-null values by key.
type fields struct {
	path string
	vals map[string]*yaml.Node
}

// fields checks that n is a mapping whose keys are all in known and appear
// once, and records every non-null field under its path.
func (d *decoder) fields(n *yaml.Node, path string, known []string) *fields {
	f := &fields{path: path}
	if d.err != nil {
		return f
	}
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.fail(n, "%s: expected a mapping (%s: ...), got %s", label(path), known[0], describe(n))
		return f
	}
	f.vals = make(map[string]*yaml.Node, len(n.Content)/2)
	keys := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content) && d.err == nil; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.fail(k, "%s: a field name must be a plain word, not %s", label(path), describe(k))
		case k.ShortTag() == "!!merge":
			d.fail(k, "%s: merge keys (<<) are not supported; write the fields out (aliases such as *name are fine)", label(path))
		case !slices.Contains(known, k.Value):
			in := "in " + path
			if path == "" {
				in = "at the top level"
			}
			d.fail(k, "unknown field %q %s (known: %s)", clip(k.Value), in, strings.Join(known, ", "))
		case keys[k.Value] != nil:
			d.fail(k, "%s: field %q given twice (first on line %d)", label(path), k.Value, keys[k.Value].Line)
		default:
			keys[k.Value] = k
			if v = d.deref(v); !isNull(v) {
				f.vals[k.Value] = v
				d.at[join(path, k.Value)] = v
			}
		}
	}
	return f
}

// field decodes f's value for key into dst with conv, if the key is present.
func field[T any](d *decoder, f *fields, key string, dst *T, conv func(*yaml.Node, string) (T, error)) {
	n := f.vals[key]
	if n == nil || d.err != nil {
		return
	}
	v, err := conv(n, join(f.path, key))
	if err != nil {
		d.err = err
		return
	}
	*dst = v
}

// fieldPtr is field for optional fields held by pointer.
func fieldPtr[T any](d *decoder, f *fields, key string, dst **T, conv func(*yaml.Node, string) (T, error)) {
	if f.vals[key] == nil {
		return
	}
	v := new(T)
	field(d, f, key, v, conv)
	if d.err == nil {
		*dst = v
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

func (d *decoder) duration(n *yaml.Node, path string) (Duration, error) {
	if err := d.scalar(n, path, "a duration such as 10s"); err != nil {
		return 0, err
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return 0, d.errorf(n, "%s: %w", path, err)
	}
	return v, nil
}

func (d *decoder) bandwidth(n *yaml.Node, path string) (Bandwidth, error) {
	if err := d.scalar(n, path, "a bandwidth such as 1Gbps"); err != nil {
		return 0, err
	}
	v, err := parseBandwidth(n.Value)
	if err != nil {
		return 0, d.errorf(n, "%s: %w", path, err)
	}
	return v, nil
}

// list checks that n is a list of at most limit entries and returns them.
func (d *decoder) list(n *yaml.Node, path string, limit int, want string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errorf(n, "%s: expected a list of %s, got %s", path, want, describe(n))
	}
	if len(n.Content) > limit {
		return nil, d.errorf(n, "%s: %d entries, at most %d allowed", path, len(n.Content), limit)
	}
	return n.Content, nil
}

// nodeList reads a list of node indices; an empty list reads as nil.
func (d *decoder) nodeList(n *yaml.Node, path string) ([]int, error) {
	items, err := d.list(n, path, MaxNodes, "node indices")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]int, len(items))
	for i, it := range items {
		if out[i], err = d.integer(d.deref(it), index(path, i)); err != nil {
			return nil, err
		}
	}
	return out, d.err
}

func (d *decoder) weights(n *yaml.Node, path string) ([]uint64, error) {
	items, err := d.list(n, path, MaxNodes, "weights")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]uint64, len(items))
	for i, it := range items {
		if out[i], err = d.uinteger(d.deref(it), index(path, i)); err != nil {
			return nil, err
		}
	}
	return out, d.err
}

// groups reads a partition: a list of groups, each a list of endpoints.
func (d *decoder) groups(n *yaml.Node, path string) ([][]Endpoint, error) {
	items, err := d.list(n, path, MaxNodes, "groups of node indices")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([][]Endpoint, len(items))
	for i, it := range items {
		if out[i], err = d.group(d.deref(it), index(path, i)); err != nil {
			return nil, err
		}
	}
	return out, d.err
}

// maxGroupSize bounds one partition group: every node, and every node's
// twin.
const maxGroupSize = 2 * MaxNodes

// group reads one partition group: node indices and twin references
// ({twin: 3}). Each member's node is recorded under its path, so that
// validation can point at the member's line.
func (d *decoder) group(n *yaml.Node, path string) ([]Endpoint, error) {
	items, err := d.list(n, path, maxGroupSize, "node indices and twin references such as {twin: 0}")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]Endpoint, len(items))
	for i, it := range items {
		p := index(path, i)
		it = d.deref(it)
		d.at[p] = it
		if it.Kind == yaml.MappingNode {
			f := d.fields(it, p, twinRefFields)
			if f.vals["twin"] == nil && d.err == nil {
				return nil, d.errorf(it, "%s: a twin reference names the node whose twin it is, e.g. {twin: 0}", p)
			}
			field(d, f, "twin", &out[i].Node, d.integer)
			out[i].Twin = true
		} else if out[i].Node, err = d.integer(it, p); err != nil {
			return nil, d.errorf(it, "%s: expected a node index (3) or a twin reference ({twin: 3}), got %s", p, describe(it))
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	return out, d.err
}

var (
	topFields          = []string{"name", "description", "seed", "duration", "nodes", "weights", "crypto", "consensus", "cluster", "network", "workload", "byzantine", "faults", "expect"}
	consensusFields    = []string{"leader_timeout", "max_event_txs", "max_tx_bytes", "gc_depth", "fetch_retry", "min_round_interval"}
	clusterFields      = []string{"genesis", "regions", "vcpu", "memory_mib", "disk_gib", "boot_time", "boot_failure", "epoch_length", "status_timeout", "auto_approve", "price_vcpu_hour", "price_memory_gib_hour", "price_disk_gib_hour"}
	networkFields      = []string{"latency", "bandwidth", "drop", "duplicate", "reorder", "links"}
	latencyFields      = []string{"dist", "value", "min", "max", "mean", "stddev", "median", "sigma"}
	linkFields         = []string{"from", "to", "latency", "drop", "duplicate", "reorder"}
	workloadFields     = []string{"rate", "tx_size", "nodes", "from", "until", "vm"}
	vmFields           = []string{"rate", "clients", "stale_reads", "lease", "vcpu", "memory_mib", "disk_gib", "image", "bounce", "late", "late_by", "replay", "underpay", "timeout", "from", "until"}
	byzantineFields    = []string{"node", "behavior", "targets", "count", "size", "from", "until"}
	faultFields        = []string{"at", "partition", "one_way", "heal", "crash", "lose_unsynced", "restart", "lose_state", "restore_backup", "backup", "isolate", "degrade", "clock_skew", "slow", "join", "leave", "remove", "host_down", "host_up", "vm_crash", "store_fault"}
	twinRefFields      = []string{"twin"}
	oneWayFields       = []string{"from", "to"}
	skewFields         = []string{"node", "offset"}
	slowFields         = []string{"node", "delay"}
	storeFaultFields   = []string{"node", "kind", "write", "record"}
	expectFields       = []string{"liveness", "min_commit_tps", "max_latency_p99", "max_latency_p50", "provisioning"}
	livenessFields     = []string{"after", "within", "disabled"}
	provisioningFields = []string{"settle", "disabled"}
)

func (d *decoder) scenario(top *yaml.Node) *Scenario {
	s := &Scenario{}
	f := d.fields(top, "", topFields)
	field(d, f, "name", &s.Name, d.str)
	field(d, f, "description", &s.Description, d.str)
	field(d, f, "seed", &s.Seed, d.uinteger)
	field(d, f, "duration", &s.Duration, d.duration)
	field(d, f, "nodes", &s.Nodes, d.integer)
	field(d, f, "weights", &s.Weights, d.weights)
	field(d, f, "crypto", &s.Crypto, d.str)
	field(d, f, "consensus", &s.Consensus, d.consensus)
	field(d, f, "cluster", &s.Cluster, d.cluster)
	field(d, f, "network", &s.Network, d.network)
	field(d, f, "workload", &s.Workload, d.workload)
	field(d, f, "byzantine", &s.Byzantine, d.byzantine)
	field(d, f, "faults", &s.Faults, d.faults)
	field(d, f, "expect", &s.Expect, d.expect)
	return s
}

func (d *decoder) consensus(n *yaml.Node, path string) (Consensus, error) {
	var c Consensus
	f := d.fields(n, path, consensusFields)
	field(d, f, "leader_timeout", &c.LeaderTimeout, d.duration)
	field(d, f, "max_event_txs", &c.MaxEventTxs, d.integer)
	field(d, f, "max_tx_bytes", &c.MaxTxBytes, d.integer)
	field(d, f, "gc_depth", &c.GCDepth, d.uinteger)
	field(d, f, "fetch_retry", &c.FetchRetry, d.duration)
	field(d, f, "min_round_interval", &c.MinRoundInterval, d.duration)
	return c, d.err
}

func (d *decoder) cluster(n *yaml.Node, path string) (Cluster, error) {
	var c Cluster
	f := d.fields(n, path, clusterFields)
	field(d, f, "genesis", &c.Genesis, d.integer)
	field(d, f, "regions", &c.Regions, d.regions)
	field(d, f, "vcpu", &c.VCPU, d.integer)
	field(d, f, "memory_mib", &c.MemoryMiB, d.uinteger)
	field(d, f, "disk_gib", &c.DiskGiB, d.uinteger)
	field(d, f, "boot_time", &c.BootTime, d.duration)
	field(d, f, "boot_failure", &c.BootFailure, d.number)
	field(d, f, "epoch_length", &c.EpochLength, d.duration)
	field(d, f, "status_timeout", &c.StatusTimeout, d.duration)
	field(d, f, "auto_approve", &c.AutoApprove, d.boolean)
	field(d, f, "price_vcpu_hour", &c.PriceVCPUHour, d.uinteger)
	field(d, f, "price_memory_gib_hour", &c.PriceMemoryGiBHour, d.uinteger)
	field(d, f, "price_disk_gib_hour", &c.PriceDiskGiBHour, d.uinteger)
	return c, d.err
}

// regions reads a list of region names; an empty list reads as nil.
func (d *decoder) regions(n *yaml.Node, path string) ([]string, error) {
	items, err := d.list(n, path, MaxRegions, "region names")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]string, len(items))
	for i, it := range items {
		if out[i], err = d.str(d.deref(it), index(path, i)); err != nil {
			return nil, err
		}
	}
	return out, d.err
}

func (d *decoder) network(n *yaml.Node, path string) (Network, error) {
	var nw Network
	f := d.fields(n, path, networkFields)
	field(d, f, "latency", &nw.Latency, d.latency)
	field(d, f, "bandwidth", &nw.Bandwidth, d.bandwidth)
	field(d, f, "drop", &nw.Drop, d.number)
	field(d, f, "duplicate", &nw.Duplicate, d.number)
	field(d, f, "reorder", &nw.Reorder, d.number)
	field(d, f, "links", &nw.Links, d.links)
	return nw, d.err
}

func (d *decoder) latency(n *yaml.Node, path string) (Latency, error) {
	var l Latency
	f := d.fields(n, path, latencyFields)
	field(d, f, "dist", &l.Dist, d.str)
	field(d, f, "value", &l.Value, d.duration)
	field(d, f, "min", &l.Min, d.duration)
	field(d, f, "max", &l.Max, d.duration)
	field(d, f, "mean", &l.Mean, d.duration)
	field(d, f, "stddev", &l.Stddev, d.duration)
	field(d, f, "median", &l.Median, d.duration)
	field(d, f, "sigma", &l.Sigma, d.number)
	return l, d.err
}

func (d *decoder) link(n *yaml.Node, path string) (Link, error) {
	var l Link
	f := d.fields(n, path, linkFields)
	field(d, f, "from", &l.From, d.nodeList)
	field(d, f, "to", &l.To, d.nodeList)
	fieldPtr(d, f, "latency", &l.Latency, d.latency)
	fieldPtr(d, f, "drop", &l.Drop, d.number)
	fieldPtr(d, f, "duplicate", &l.Duplicate, d.number)
	fieldPtr(d, f, "reorder", &l.Reorder, d.number)
	return l, d.err
}

func (d *decoder) links(n *yaml.Node, path string) ([]Link, error) {
	return entries(d, n, path, MaxLinks, "link overrides", d.link)
}

// entries decodes a list of mappings, recording each entry's node under its
// path so later errors about the entry can point at it.
func entries[T any](d *decoder, n *yaml.Node, path string, limit int, want string, conv func(*yaml.Node, string) (T, error)) ([]T, error) {
	items, err := d.list(n, path, limit, want)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]T, len(items))
	for i, it := range items {
		p := index(path, i)
		it = d.deref(it)
		d.at[p] = it
		if out[i], err = conv(it, p); err != nil {
			return nil, err
		}
	}
	return out, d.err
}

func (d *decoder) workload(n *yaml.Node, path string) (Workload, error) {
	var w Workload
	f := d.fields(n, path, workloadFields)
	field(d, f, "rate", &w.Rate, d.number)
	field(d, f, "tx_size", &w.TxSize, d.integer)
	field(d, f, "nodes", &w.Nodes, d.nodeList)
	field(d, f, "from", &w.From, d.duration)
	field(d, f, "until", &w.Until, d.duration)
	field(d, f, "vm", &w.VM, d.vmWorkload)
	return w, d.err
}

func (d *decoder) vmWorkload(n *yaml.Node, path string) (VMWorkload, error) {
	var w VMWorkload
	f := d.fields(n, path, vmFields)
	field(d, f, "rate", &w.Rate, d.number)
	field(d, f, "clients", &w.Clients, d.integer)
	field(d, f, "stale_reads", &w.StaleReads, d.boolean)
	field(d, f, "lease", &w.Lease, d.duration)
	field(d, f, "vcpu", &w.VCPU, d.integer)
	field(d, f, "memory_mib", &w.MemoryMiB, d.uinteger)
	field(d, f, "disk_gib", &w.DiskGiB, d.uinteger)
	field(d, f, "image", &w.Image, d.str)
	field(d, f, "bounce", &w.Bounce, d.number)
	field(d, f, "late", &w.Late, d.number)
	field(d, f, "late_by", &w.LateBy, d.duration)
	field(d, f, "replay", &w.Replay, d.number)
	field(d, f, "underpay", &w.Underpay, d.number)
	field(d, f, "timeout", &w.Timeout, d.duration)
	field(d, f, "from", &w.From, d.duration)
	field(d, f, "until", &w.Until, d.duration)
	return w, d.err
}

func (d *decoder) byzantine(n *yaml.Node, path string) ([]Byzantine, error) {
	return entries(d, n, path, MaxByzantine, "byzantine entries", func(n *yaml.Node, path string) (Byzantine, error) {
		var b Byzantine
		f := d.fields(n, path, byzantineFields)
		field(d, f, "node", &b.Node, d.integer)
		field(d, f, "behavior", &b.Behavior, d.str)
		field(d, f, "targets", &b.Targets, d.nodeList)
		field(d, f, "count", &b.Count, d.integer)
		field(d, f, "size", &b.Size, d.integer)
		field(d, f, "from", &b.From, d.duration)
		field(d, f, "until", &b.Until, d.duration)
		return b, d.err
	})
}

func (d *decoder) faults(n *yaml.Node, path string) ([]Fault, error) {
	return entries(d, n, path, MaxFaults, "faults", func(n *yaml.Node, path string) (Fault, error) {
		var x Fault
		f := d.fields(n, path, faultFields)
		field(d, f, "at", &x.At, d.duration)
		field(d, f, "partition", &x.Partition, d.groups)
		fieldPtr(d, f, "one_way", &x.OneWay, func(n *yaml.Node, path string) (OneWay, error) {
			var o OneWay
			f := d.fields(n, path, oneWayFields)
			field(d, f, "from", &o.From, d.nodeList)
			field(d, f, "to", &o.To, d.nodeList)
			return o, d.err
		})
		field(d, f, "heal", &x.Heal, d.boolean)
		field(d, f, "crash", &x.Crash, d.nodeList)
		field(d, f, "lose_unsynced", &x.LoseUnsynced, d.boolean)
		field(d, f, "restart", &x.Restart, d.nodeList)
		field(d, f, "lose_state", &x.LoseState, d.boolean)
		field(d, f, "restore_backup", &x.RestoreBackup, d.boolean)
		field(d, f, "backup", &x.Backup, d.nodeList)
		fieldPtr(d, f, "isolate", &x.Isolate, d.integer)
		fieldPtr(d, f, "degrade", &x.Degrade, d.link)
		fieldPtr(d, f, "clock_skew", &x.ClockSkew, func(n *yaml.Node, path string) (ClockSkew, error) {
			var c ClockSkew
			f := d.fields(n, path, skewFields)
			field(d, f, "node", &c.Node, d.integer)
			field(d, f, "offset", &c.Offset, d.duration)
			return c, d.err
		})
		fieldPtr(d, f, "slow", &x.Slow, func(n *yaml.Node, path string) (Slow, error) {
			var s Slow
			f := d.fields(n, path, slowFields)
			field(d, f, "node", &s.Node, d.integer)
			field(d, f, "delay", &s.Delay, d.duration)
			return s, d.err
		})
		fieldPtr(d, f, "join", &x.Join, d.integer)
		fieldPtr(d, f, "leave", &x.Leave, d.integer)
		fieldPtr(d, f, "remove", &x.Remove, d.integer)
		fieldPtr(d, f, "host_down", &x.HostDown, d.integer)
		fieldPtr(d, f, "host_up", &x.HostUp, d.integer)
		fieldPtr(d, f, "vm_crash", &x.VMCrash, d.integer)
		fieldPtr(d, f, "store_fault", &x.StoreFault, func(n *yaml.Node, path string) (StoreFault, error) {
			var s StoreFault
			f := d.fields(n, path, storeFaultFields)
			field(d, f, "node", &s.Node, d.integer)
			field(d, f, "kind", &s.Kind, d.str)
			field(d, f, "write", &s.Write, d.str)
			field(d, f, "record", &s.Record, d.str)
			return s, d.err
		})
		return x, d.err
	})
}

func (d *decoder) expect(n *yaml.Node, path string) (Expect, error) {
	var e Expect
	f := d.fields(n, path, expectFields)
	field(d, f, "liveness", &e.Liveness, func(n *yaml.Node, path string) (Liveness, error) {
		var l Liveness
		f := d.fields(n, path, livenessFields)
		field(d, f, "after", &l.After, d.duration)
		field(d, f, "within", &l.Within, d.duration)
		field(d, f, "disabled", &l.Disabled, d.boolean)
		return l, d.err
	})
	field(d, f, "min_commit_tps", &e.MinCommitTPS, d.number)
	field(d, f, "max_latency_p99", &e.MaxLatencyP99, d.duration)
	field(d, f, "max_latency_p50", &e.MaxLatencyP50, d.duration)
	field(d, f, "provisioning", &e.Provisioning, func(n *yaml.Node, path string) (Provisioning, error) {
		var p Provisioning
		f := d.fields(n, path, provisioningFields)
		field(d, f, "settle", &p.Settle, d.duration)
		field(d, f, "disabled", &p.Disabled, d.boolean)
		return p, d.err
	})
	return e, d.err
}
