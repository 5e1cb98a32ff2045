// Package store is the live node's on-disk node.Store, a key-value store
// (cometbft-db over goleveldb, or pebble) holding the events the ledger
// inserted, the last event the node signed, how far it applied the commit
// order, and snapshots of its state.
//
// # Key layout
//
// Every key starts with a one-byte kind; integers are big-endian and
// fixed-width, so the store's byte order is the order the node reads in.
//
//	"h"                                  header: format version, node public key
//	"e" epoch(8) round(8) seq(8)         an event's encoding
//	"x" hash(32)                         index: event hash -> its "e" key
//	"q"                                  the next seq to hand out
//	"s"                                  last signed: epoch(8) round(8) creator(4) hash(32)
//	"c"                                  commit position: index(8) epoch(8) round(8)
//	"p" index(8)                         a state snapshot at commit index: epoch(8) state
//	"m"                                  the store has a mark file (empty payload)
//
// seq is one counter for the whole store, incremented by every PutEvent, so
// within a round the events sort in insertion order and Scan returns them
// in position order without sorting. The counter is written in the same
// batch as the event it numbers: the two survive a crash together.
//
// # Integrity
//
// Every value is framed as length(4) payload crc(4), where the CRC-32C
// covers the key, the length and the payload: a flipped byte, a truncated
// value or a value found under the wrong key all fail the check. Every read
// (Scan, Get, the getters, Open's header) checks the frame and returns an
// error wrapping ErrCorrupt that names the record and tells the operator
// what to do; nothing is skipped and nothing panics. Open refuses a store of
// another node key, of an unknown format version, of the other backend, or
// holding records but no header: the node never starts fresh silently.
//
// Open also refuses damage that the backend would otherwise repair by
// dropping data (damage.go): goleveldb runs with strict checks, and a log
// record that fails its checksum is refused unless it is the torn tail of
// the newest log, which is what a crash leaves; pebble's write-ahead logs
// are scanned the same way before pebble replays them. Then Open reads
// every record once, so that a flipped byte in a table file stops the
// node at start with the remedy, not at the first read that meets it.
//
// The mark (mark.go), a small file beside the database, says that the
// store exists and the last event the node signed. A database missing,
// emptied, cut short or replaced by an older copy is refused, because
// signing from it could sign a second event for a round. The remedy for
// every such store is to start with --rejoin.
//
// # Durability
//
// Prune deletes the events of old epochs with their index entries, in
// unsynced batches: after a crash it finds the rest again.
//
// PutEvent, SetCommitted and the sequence counter are written without
// fsync: an event lost in a crash is one the node can fetch again from its
// peers, and an fsync per event would bound the node's event rate by the
// disk's flush latency. SetLastSigned is the one write safety depends on
// (the ledger calls it before sending its own event, so that a restarted
// node never signs a second event for a round): it rewrites the signed
// event and its index together with the last-signed record in one batch
// written with sync, so both are on disk when it returns, whatever happened
// to the unsynced writes before it, and then records the same in the mark,
// synced too. PutSnapshot is synced too, being rare
// and large.
//
// # Concurrency
//
// One goroutine (the node's) writes and scans. Get, LastSigned, Committed
// and LatestSnapshot may be called from any goroutine at any time, also
// during writes. Close waits for the calls in progress; later calls return
// ErrClosed.
package store
