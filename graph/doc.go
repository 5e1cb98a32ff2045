/*
Package graph is the ShadowGraph: the DAG of signed events that DAGGER nodes
build together, and the Byzantine-fault-tolerant rule that orders it.

The package is a pure state machine in the manner of etcd's raft library.
Its inputs are events, explicit times and timer expiries; its outputs are
values. It starts no goroutines, reads no clock, draws no randomness that
can reach an output (the replay window's table seeds its hashing, as Go's
maps do, against transactions ground to collide, and only membership is
read from it) and does no I/O, so the simulator and the live node drive the
very same code, and the same inputs in any arrival order produce the same
commits, bit for bit.

# Events and validity

An Event has an epoch, a round, a creator (a MemberID of the epoch's
Committee), the creator's clock, parent references, a batch of transactions
with its Merkle root, and the creator's signature over the event's digest.
The digest (the event's Hash) covers every header field: the batch enters
through its count, size and root, so a signed Header alone is evidence of
what its creator said. The encoding is versioned, fixed-width and canonical
(parents sorted newest round first, then creator, then hash), so Decode
accepts exactly one encoding of each event.

An event of round r > 0 is valid when it references parents from a quorum
of distinct creators at round r-1 (a quorum is more than 2/3 of the total
weight) and exactly one event of its own creator, all of its parents lie
below r, the Merkle root matches the batch, the signature verifies, and the
limits hold. Parent references carry the round and creator they claim, so
all of this is checked before the parents arrive; when a parent arrives,
its actual round and creator must match the reference.

# Rounds and creating events

A node makes one event per round. Propose makes the round-k+1 event once
the graph holds a quorum of round-k events including the node's own, and
either round k's leader, or a fired leader timeout for round k
(LeaderTimeout), or a quorum of round-k+1 events (the others have moved on,
so waiting helps no leader). Besides one event of each creator at round k
it references every older event that nothing references yet, so all events
a node has seen enter its causal history and get committed.

Round jumping is restricted to keep leaders' votes: a node never skips a
round while its own previous event is in memory, so an honest node votes in
every round it takes part in. A node that falls behind catches up one
round at a time (the rounds below the frontier advance without waiting for
leaders); only a node whose own last event has been garbage-collected
rejoins at the highest round holding a quorum. This rules out the execution
in which honest nodes that keep jumping forward starve every leader of
votes.

# Commit rule

Each round r has one leader slot, (r, Committee.Leader(r)); the schedule
is a hash of the committee and the round mapped onto the members' weights.
A Byzantine creator may put several blocks (events) in a slot; all are
kept. Everything below is read off the DAG; no messages other than events
and fetches exist.

  - An event of round r+1 votes for the block it references in the slot
    (its first such parent in canonical order), and blames the slot if it
    references none.
  - An event of round r+2 is a certificate for block L if its parents at
    r+1 include votes for L from a quorum of creators.
  - Direct skip: blames from a quorum of creators at r+1.
  - Direct commit: certificates for L from a quorum of creators at r+2.
  - Indirect: otherwise, look at the leader slots from r+3 upward, passing
    over skipped ones. If the first decided-to-commit one (the anchor) has
    an ancestor at r+2 certifying L, commit L; if it has none, skip the
    slot. An undecided slot before any anchor leaves r undecided.

Slots are decided top down (an indirect decision reads the slots above)
and sequenced bottom up: the output is the longest prefix of decided slots
above the last one sequenced. Commits are reported by Ready.

The rule relies on these invariants. Any two quorums share more than a
third of the weight, so, with at most f Byzantine weight (n >= 3f+1 for
equal weights), they share an honest member. An honest creator makes one
event per round, so it votes for at most one block per slot; hence at most
one block per slot gathers a quorum of votes, at most one is certified, and
a slot cannot have both a quorum of blames and a certified block. If L is
directly committed, every event of round r+3 or above has a certificate for
L among its ancestors (its r+2 parents form a quorum, which meets the
certifiers in an honest member), so every anchor commits L indirectly too;
if the slot is directly skipped, no certificate exists for any anchor to
find. Decisions are therefore final and honest nodes' sequences are
prefixes of one another. Should the graph ever prove otherwise (more than
f Byzantine weight), the rule stops with ErrSafety in Fault instead of
guessing.

# Linearizer

Committing leader L commits its causal history minus everything committed
before, restricted to rounds within GC depth below L's round, in the order
(round, creator, hash): parents always precede children. Transactions are
delivered in that order, each hash once within a window of GC depth leader
rounds (replay protection beyond that window belongs to the state machine).
The window does not end with an epoch: WindowAt hands the transactions
delivered within it to the next epoch's graph (Config.Window), on an axis
where an epoch's round 0 follows the last leader round its predecessor
committed, so a transaction that any creator, Byzantine or honest,
repeats across an epoch boundary is not delivered twice.
A commit's consensus time is the weighted median of the creation times of
L's parents at round r-1, at least the previous commit's time. Those
parents form a quorum, so Byzantine creators hold less than half of their
weight and cannot move the median outside the honest creators' times.

# Garbage collection

After committing a leader of round r, rounds below r minus the GC depth
leave memory: their events, buffered events, missing-parent records and
transaction hashes. Late events for those rounds are rejected with
ErrBelowHorizon; references to them count as satisfied. The cut-off is a
function of the commit sequence, so every node commits the same events
whatever it has collected.

# The caller's contract

A Graph is driven from one goroutine.

  - Events from peers go to Insert. Signature and structure checks may run
    first on a worker pool through Committee.Verify; Insert then skips
    them. An invalid event is rejected with an error wrapping one of this
    package's Err values and changes nothing. An event whose parents are
    missing waits in a bounded buffer (a share per creator).
  - After a batch of inputs, call Ready. It runs the commit rule and hands
    over: Inserted (persist them), Missing (fetch them from the peer that
    sent the child; Missing() lists all of them again for retries),
    Evidence (gossip it; the state machine records it), Rejected (buffered
    events dropped later) and Commits (apply them in order).
  - Call Propose whenever the graph may have changed. On WaitLeader, arm a
    leader timer for round NextRound()-1 and call LeaderTimeout when it
    fires. An event Propose returns is already inserted; persist it as the
    last signed event before sending it: Propose never signs twice for one
    round in one process, and Config.LastSigned carries that guarantee
    across a restart, after which the caller re-inserts its stored events.
  - Reads (Get, EventsAt, Missing, Round, NextSlot) serve peers' fetches
    and status.
*/
package graph
