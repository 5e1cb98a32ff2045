package swarm

import (
	"bytes"
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"

	"dagger/sim/scenario"
)

// Encode writes a scenario as a file a person can read: every field that
// Parse would fill in with the same value anyway is left out, and what
// remains parses back to exactly sc (with its defaults written in, as
// Parse leaves them). sc must be valid.
func Encode(sc *scenario.Scenario) ([]byte, error) {
	full, err := marshal(sc)
	if err != nil {
		return nil, err
	}
	want, err := scenario.Parse(full, sc.Name+".yaml")
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(full, &doc); err != nil {
		return nil, err
	}
	same := func() bool {
		b, err := marshal(&doc)
		if err != nil {
			return false
		}
		got, err := scenario.Parse(b, sc.Name+".yaml")
		return err == nil && reflect.DeepEqual(got, want)
	}
	prune(doc.Content[0], same, 0)
	return marshal(&doc)
}

// prune drops, depth first, every mapping entry under n that same still
// holds without. Sections are tried whole before their fields; entries of
// lists (faults, Byzantine entries, links) are kept as they are, being
// few fields each that mostly matter.
func prune(n *yaml.Node, same func() bool, depth int) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); {
			if n.Content[i].Value == "name" && depth == 0 {
				i += 2
				continue
			}
			k, v := n.Content[i], n.Content[i+1]
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			if same() {
				continue
			}
			n.Content = append(n.Content[:i], append([]*yaml.Node{k, v}, n.Content[i:]...)...)
			prune(v, same, depth+1)
			i += 2
		}
	}
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(v); err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
