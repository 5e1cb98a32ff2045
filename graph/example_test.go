package graph_test

import (
	"fmt"

	"dagger/graph"
)

// Four members drive their graphs by hand: each round every node proposes,
// and every event reaches every other node. The leader of a round commits
// once two more rounds exist.
func Example() {
	var signers []graph.Signer
	var members []graph.Member
	for i := range 4 {
		s := graph.Ed25519SignerFromSeed([32]byte{byte(i + 1)})
		signers = append(signers, s)
		members = append(members, graph.Member{Key: s.PublicKey(), Weight: 1})
	}
	committee, err := graph.NewCommittee(0, members)
	if err != nil {
		panic(err)
	}
	var nodes []*graph.Graph
	for _, s := range signers {
		g, err := graph.New(graph.Config{Committee: committee, Signer: s})
		if err != nil {
			panic(err)
		}
		nodes = append(nodes, g)
	}
	for round := range 5 {
		var made []*graph.Event
		for i, g := range nodes {
			tx := []byte(fmt.Sprintf("node %d round %d", i, round))
			e, _, wait := g.Propose(int64(round)*1e9, [][]byte{tx}, nil)
			if wait != graph.WaitNone {
				panic(wait)
			}
			made = append(made, e)
		}
		for i, g := range nodes {
			for j, e := range made {
				if i != j {
					if _, err := g.Insert(e); err != nil {
						panic(err)
					}
				}
			}
		}
	}
	for _, c := range nodes[0].Ready().Commits {
		fmt.Printf("commit %d: leader of round %d, %d events, %d txs\n", c.Index, c.Leader.Round, len(c.Events), len(c.Txs))
	}
	// Output:
	// commit 0: leader of round 0, 1 events, 1 txs
	// commit 1: leader of round 1, 4 events, 4 txs
	// commit 2: leader of round 2, 4 events, 4 txs
}
