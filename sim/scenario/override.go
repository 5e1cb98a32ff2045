package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

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

// override applies one --set to the tree.
func (d *decoder) override(top *yaml.Node, o Override) error {
	origin := o.String()
	if err := o.check(); err != nil {
		return fmt.Errorf("%s: --set %s: %w", d.name, clip(origin), err)
	}
	parts := strings.Split(o.Key, ".")
	m := top
	// info describes the struct m decodes to, nil once the path leaves
	// the known fields (the decoder then reports the unknown one).
	info := structOf(reflect.TypeFor[Scenario]())
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
		f := info.field(part)
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
			if f != nil && f.replaces != "" {
				for j := 0; j+1 < len(m.Content); {
					if m.Content[j].Value == f.replaces {
						m.Content = slices.Delete(m.Content, j, j+2)
					} else {
						j += 2
					}
				}
			}
			return nil
		}
		info = f.structInfo()
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
