package node

// Holding reports whether a sync keeps the ledger from signing, for the
// external tests.
func (l *Ledger) Holding() bool { return l.holding() }
