// Package sim is the deterministic simulator: many nodes in one process on
// virtual time, seeded network faults, crashes and Byzantine behaviours, and
// checkers for agreement, validity and linearizability. Nothing is
// implemented here yet; graph/graphtest holds the small in-memory harness
// the graph's own tests and `dagger demo` use meanwhile.
package sim
