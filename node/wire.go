package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dagger/graph"
	"dagger/graph/codec"
)

// Wire format of ledger messages, version implied by the first byte (the
// kind). All integers are big-endian and fixed-width.
//
//	event: 0x01 | encoded event
//	fetch: 0x02 | count u16 | count × hash
//	sync:  0x03 | from epoch u64 | from round u64 | from index u32
//	batch: 0x04 | flags u8 (bit 0: more, bit 1: answers a sync) | next epoch u64 | next round u64 | next index u32 | count u32 | count × (length u32 | encoded event)
//	txs:   0x05 | hops u8 | count u32 | count × (length u32 | transaction)
//	own:   0x06 | epoch u64 | creator u32
//	owned: 0x07 | epoch u64 | count u32 (at most 2) | count × (length u32 | encoded event)
//	have:  0x08 | epoch u64 | round u64 | hash
//	round: 0x09 | epoch u64 | round u64 | count u16 (at most graph.MaxCommitteeSize) | count × creator u32
//
// Events keep their own encoding inside a message, so an event read from
// the network is stored and relayed as the same bytes.

// Kind is the type of a ledger message.
type Kind uint8

const (
	// KindEvent pushes one event: its creator broadcasts it once.
	KindEvent Kind = 1
	// KindFetch asks a peer for events by hash: the missing parents of an
	// event that peer sent.
	KindFetch Kind = 2
	// KindSync asks a peer for every event it stored from a position (epoch,
	// round, and the index in the round where the peer's last batch ended)
	// on: how a node that fell behind or restarted catches up.
	KindSync Kind = 3
	// KindBatch answers a fetch or a sync with events.
	KindBatch Kind = 4
	// KindTxs hands client transactions to a peer that signs in this
	// epoch, from a node that does not.
	KindTxs Kind = 5
	// KindOwn asks a peer for the latest event it holds of one creator in
	// an epoch: a node that lost its store learns its own latest event
	// from a quorum before it signs again.
	KindOwn Kind = 6
	// KindOwned answers KindOwn with the peer's current epoch, the epoch
	// asked about (so that a late answer to an earlier question is never
	// taken for an answer to a later one) and, if the two are the same,
	// the creator's latest event it holds and its own latest event (each
	// if it has one).
	KindOwned Kind = 7
	// KindHave announces the latest event a node signed, by epoch, round
	// and hash, while the node waits for a quorum: a peer that lacks it
	// fetches it, and one in an earlier epoch learns that it fell behind.
	// Announcing the event rather than sending it again costs a few dozen
	// bytes where the event may take megabytes, and a peer that has it
	// already spends nothing.
	KindHave Kind = 8
	// KindRound asks a peer for the events of one round of an epoch that
	// it holds in its graph, except those of the creators listed (the
	// asker has them): a node short of a quorum or of the leader asks it
	// when an event of its round may have been lost on the way, and gets
	// only what it lacks. The answer is a batch, as for a fetch.
	KindRound Kind = 9
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindFetch:
		return "fetch"
	case KindSync:
		return "sync"
	case KindBatch:
		return "batch"
	case KindTxs:
		return "txs"
	case KindOwn:
		return "own"
	case KindOwned:
		return "owned"
	case KindHave:
		return "have"
	case KindRound:
		return "round"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Limits on messages. A batch is built to stay under SyncBatchBytes unless
// its first event alone is larger; MaxMessageBytes bounds what a node reads.
const (
	MaxFetchHashes  = 1024
	MaxBatchEvents  = 4096
	SyncBatchBytes  = 4 << 20
	MaxMessageBytes = graph.DefaultMaxEventBytes + 64<<10
)

// ErrBadMessage wraps every reason a message cannot be decoded.
var ErrBadMessage = errors.New("malformed message")

// Message is one decoded ledger message; which fields are set depends on
// Kind. Event and Events alias the decoded input.
type Message struct {
	Kind   Kind
	Event  []byte       // KindEvent
	Hashes []graph.Hash // KindFetch
	From   Position     // KindSync
	Events [][]byte     // KindBatch; the transactions of KindTxs
	Hops   uint8        // KindTxs: how often they were handed on already
	// Sync: the KindBatch answers a sync (otherwise a fetch); More: events
	// from Next on remain.
	Sync bool
	More bool
	Next Position
	// Epoch and Creator: KindOwn asks about Creator's events of Epoch;
	// KindOwned says the sender is in Epoch, answers a question about
	// epoch Asked, and carries the events, if any, in Events.
	Epoch   uint64
	Asked   uint64
	Creator graph.MemberID
	// Have is the event KindHave announces: its epoch and round (Index 0)
	// and its hash.
	Have     Position
	HaveHash graph.Hash
	// Round is the epoch and round KindRound asks about; Creators are the
	// creators whose events the asker has there.
	Round    Position
	Creators []graph.MemberID
}

// eventFrame is what an event message carries before the event's
// encoding: the graph writes it in front of the events it proposes
// (graph.Config.FramePrefix), so broadcasting one copies nothing.
var eventFrame = []byte{byte(KindEvent)}

// EncodeEvent returns the event message carrying enc.
func EncodeEvent(enc []byte) []byte {
	b := make([]byte, 0, 1+len(enc))
	return append(append(b, byte(KindEvent)), enc...)
}

// EncodeFetch returns the fetch message for hashes (at most MaxFetchHashes).
func EncodeFetch(hashes []graph.Hash) []byte {
	if len(hashes) > MaxFetchHashes {
		panic(fmt.Sprintf("node: fetch of %d hashes, at most %d", len(hashes), MaxFetchHashes))
	}
	b := make([]byte, 0, 3+graph.HashSize*len(hashes))
	b = append(b, byte(KindFetch))
	b = binary.BigEndian.AppendUint16(b, uint16(len(hashes)))
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	return b
}

// EncodeSync returns the sync request for the events from position from on.
func EncodeSync(from Position) []byte {
	b := binary.BigEndian.AppendUint64([]byte{byte(KindSync)}, from.Epoch)
	b = binary.BigEndian.AppendUint64(b, from.Round)
	return binary.BigEndian.AppendUint32(b, from.Index)
}

// EncodeRound asks for the events of round at.Round of epoch at.Epoch
// except those of creators held (at most graph.MaxCommitteeSize).
func EncodeRound(at Position, held []graph.MemberID) []byte {
	if len(held) > graph.MaxCommitteeSize {
		panic(fmt.Sprintf("node: round request naming %d creators, at most %d", len(held), graph.MaxCommitteeSize))
	}
	b := make([]byte, 0, 19+4*len(held))
	b = binary.BigEndian.AppendUint64(append(b, byte(KindRound)), at.Epoch)
	b = binary.BigEndian.AppendUint64(b, at.Round)
	b = binary.BigEndian.AppendUint16(b, uint16(len(held)))
	for _, c := range held {
		b = binary.BigEndian.AppendUint32(b, uint32(c))
	}
	return b
}

// EncodeHave announces the event with hash h at round at.Round of epoch
// at.Epoch.
func EncodeHave(at Position, h graph.Hash) []byte {
	b := binary.BigEndian.AppendUint64([]byte{byte(KindHave)}, at.Epoch)
	b = binary.BigEndian.AppendUint64(b, at.Round)
	return append(b, h[:]...)
}

// EncodeBatch returns the batch of encoded events (at most
// MaxBatchEvents) that answers a fetch.
func EncodeBatch(events [][]byte) []byte { return encodeBatch(events, false, false, Position{}) }

// EncodeSyncBatch returns the batch of encoded events (at most
// MaxBatchEvents) that answers a sync; with more, the events from next on
// remain to be asked for.
func EncodeSyncBatch(events [][]byte, more bool, next Position) []byte {
	return encodeBatch(events, true, more, next)
}

func encodeBatch(events [][]byte, sync, more bool, next Position) []byte {
	if len(events) > MaxBatchEvents {
		panic(fmt.Sprintf("node: batch of %d events, at most %d", len(events), MaxBatchEvents))
	}
	n := 26
	for _, e := range events {
		n += 4 + len(e)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(KindBatch), 0)
	if more {
		b[1] |= 1
	}
	if sync {
		b[1] |= 2
	}
	b = binary.BigEndian.AppendUint64(b, next.Epoch)
	b = binary.BigEndian.AppendUint64(b, next.Round)
	b = binary.BigEndian.AppendUint32(b, next.Index)
	return appendItems(b, events)
}

// EncodeOwn asks for the latest event of creator in epoch.
func EncodeOwn(epoch uint64, creator graph.MemberID) []byte {
	b := binary.BigEndian.AppendUint64([]byte{byte(KindOwn)}, epoch)
	return binary.BigEndian.AppendUint32(b, uint32(creator))
}

// EncodeOwned answers EncodeOwn about epoch asked: the sender is in
// epoch; events (at most MaxOwnedEvents) are the asked creator's latest
// event there and the sender's own latest.
func EncodeOwned(epoch, asked uint64, events [][]byte) []byte {
	if len(events) > MaxOwnedEvents {
		panic(fmt.Sprintf("node: owned answer of %d events, at most %d", len(events), MaxOwnedEvents))
	}
	b := binary.BigEndian.AppendUint64([]byte{byte(KindOwned)}, epoch)
	return appendItems(binary.BigEndian.AppendUint64(b, asked), events)
}

// MaxOwnedEvents bounds the events of an owned answer.
const MaxOwnedEvents = 2

// MaxHops bounds how often forwarded transactions are handed on by nodes
// that do not sign either.
const MaxHops = 4

// EncodeTxs returns the message handing txs (at most MaxBatchEvents) to a
// peer, handed on hops times before.
func EncodeTxs(txs [][]byte, hops uint8) []byte {
	if len(txs) > MaxBatchEvents || hops > MaxHops {
		panic(fmt.Sprintf("node: %d forwarded transactions after %d hops, at most %d and %d", len(txs), hops, MaxBatchEvents, MaxHops))
	}
	return appendItems([]byte{byte(KindTxs), hops}, txs)
}

func appendItems(b []byte, items [][]byte) []byte {
	w := codec.Writer{B: b}
	w.Count(len(items))
	for _, it := range items {
		w.Bytes32(it)
	}
	return w.B
}

// items reads count × (length u32 | bytes), at most max items of at least
// one byte each; they alias the message.
func items(r *codec.Reader, what string, max int) [][]byte {
	n := r.Count(what, max, 5)
	if n == 0 {
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.Bytes32(r.Left(), what)
		if r.Err() == nil && len(out[i]) == 0 {
			r.Fail("%s: item %d is empty", what, i)
		}
	}
	return out
}

func badMessage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, args...))
}

// DecodeMessage parses one message. It checks the framing and the limits
// above, not the events inside (graph.Decode does).
func DecodeMessage(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, badMessage("empty")
	}
	if len(b) > MaxMessageBytes {
		return Message{}, badMessage("%d bytes, at most %d", len(b), MaxMessageBytes)
	}
	r := codec.NewReader(b, func(msg string) error { return badMessage("%s", msg) })
	m := Message{Kind: Kind(r.U8("kind"))}
	switch m.Kind {
	case KindEvent:
		if m.Event = r.Take(r.Left(), "event"); len(m.Event) == 0 {
			r.Fail("event message without an event")
		}
	case KindFetch:
		n := int(r.U16("fetch count"))
		if r.Err() == nil && (n == 0 || n > MaxFetchHashes) {
			r.Fail("fetch of %d hashes, want 1..%d", n, MaxFetchHashes)
		}
		if r.Err() == nil && r.Left() != n*graph.HashSize {
			r.Fail("fetch of %d hashes in %d bytes", n, r.Left())
		}
		if r.Err() == nil {
			m.Hashes = make([]graph.Hash, n)
			for i := range m.Hashes {
				r.Fixed(m.Hashes[i][:], "hash")
			}
		}
	case KindSync:
		m.From = Position{Epoch: r.U64("sync epoch"), Round: r.U64("sync round"), Index: r.U32("sync index")}
	case KindBatch:
		flags := r.U8("batch flags")
		if r.Err() == nil && flags > 3 {
			r.Fail("batch: unknown flags %#x", flags)
		}
		m.More, m.Sync = flags&1 != 0, flags&2 != 0
		if r.Err() == nil && m.More && !m.Sync {
			r.Fail("batch: more events promised in answer to a fetch")
		}
		m.Next = Position{Epoch: r.U64("batch next epoch"), Round: r.U64("batch next round"), Index: r.U32("batch next index")}
		if r.Err() == nil && !m.More && m.Next != (Position{}) {
			r.Fail("batch: next position %v without more", m.Next)
		}
		m.Events = items(&r, "batch", MaxBatchEvents)
	case KindTxs:
		if m.Hops = r.U8("txs hops"); r.Err() == nil && m.Hops > MaxHops {
			r.Fail("txs: %d hops, at most %d", m.Hops, MaxHops)
		}
		if m.Events = items(&r, "txs", MaxBatchEvents); r.Err() == nil && len(m.Events) == 0 {
			r.Fail("txs: no transactions")
		}
	case KindOwn:
		m.Epoch, m.Creator = r.U64("own epoch"), graph.MemberID(r.U32("own creator"))
	case KindOwned:
		m.Epoch, m.Asked = r.U64("owned epoch"), r.U64("owned asked epoch")
		m.Events = items(&r, "owned events", MaxOwnedEvents)
	case KindHave:
		m.Have = Position{Epoch: r.U64("have epoch"), Round: r.U64("have round")}
		r.Fixed(m.HaveHash[:], "have hash")
	case KindRound:
		m.Round = Position{Epoch: r.U64("round epoch"), Round: r.U64("round round")}
		n := int(r.U16("round count"))
		if r.Err() == nil && n > graph.MaxCommitteeSize {
			r.Fail("round request naming %d creators, at most %d", n, graph.MaxCommitteeSize)
		}
		if r.Err() == nil && r.Left() != 4*n {
			r.Fail("round request naming %d creators in %d bytes", n, r.Left())
		}
		if r.Err() == nil && n > 0 {
			m.Creators = make([]graph.MemberID, n)
			for i := range m.Creators {
				m.Creators[i] = graph.MemberID(r.U32("round creator"))
			}
		}
	default:
		r.Fail("unknown kind %d", b[0])
	}
	if r.End(); r.Err() != nil {
		return Message{}, r.Err()
	}
	return m, nil
}

// Encode returns the message's encoding; DecodeMessage(m.Encode()) == m
// for every message DecodeMessage accepts.
func (m Message) Encode() []byte {
	switch m.Kind {
	case KindEvent:
		return EncodeEvent(m.Event)
	case KindFetch:
		return EncodeFetch(m.Hashes)
	case KindSync:
		return EncodeSync(m.From)
	case KindBatch:
		return encodeBatch(m.Events, m.Sync, m.More, m.Next)
	case KindTxs:
		return EncodeTxs(m.Events, m.Hops)
	case KindOwn:
		return EncodeOwn(m.Epoch, m.Creator)
	case KindOwned:
		return EncodeOwned(m.Epoch, m.Asked, m.Events)
	case KindHave:
		return EncodeHave(m.Have, m.HaveHash)
	case KindRound:
		return EncodeRound(m.Round, m.Creators)
	}
	panic(fmt.Sprintf("node: encode of unknown message kind %d", m.Kind))
}
