package store

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dagger/graph"
	"dagger/node"
)

var allBackends = []string{GoLevelDB, Pebble}

func testKey(seed byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
}

func open(t *testing.T, dir, backend string) *DB {
	t.Helper()
	d, err := Open(dir, Options{Backend: backend, Key: testKey(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// event builds an unsigned event with one transaction named by tag: the
// store needs only its encoding and hash.
func event(epoch, round uint64, creator graph.MemberID, tag string) *graph.Event {
	txs := [][]byte{[]byte(tag)}
	root, _ := graph.BatchRoot(txs)
	return &graph.Event{Epoch: epoch, Round: round, Creator: creator, Time: int64(round), TxRoot: root, Txs: txs}
}

func put(t *testing.T, d *DB, es ...*graph.Event) {
	t.Helper()
	for _, e := range es {
		if err := d.PutEvent(e); err != nil {
			t.Fatal(err)
		}
	}
}

type scanned struct {
	pos node.Position
	enc []byte
}

func scanAll(t *testing.T, d *DB, from node.Position) []scanned {
	t.Helper()
	var out []scanned
	if err := d.Scan(from, func(pos node.Position, enc []byte) bool {
		out = append(out, scanned{pos, enc})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkScan(t *testing.T, got []scanned, want []*graph.Event) {
	t.Helper()
	checkScanAt(t, got, want, 0)
}

// checkScanAt checks a scan that began at index first of its first event's
// round: each event's position names its place in its round.
func checkScanAt(t *testing.T, got []scanned, want []*graph.Event, first uint32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("scan returned %d events, want %d", len(got), len(want))
	}
	index := first
	for i, e := range want {
		if i > 0 && (want[i-1].Epoch != e.Epoch || want[i-1].Round != e.Round) {
			index = 0
		}
		pos := node.Position{Epoch: e.Epoch, Round: e.Round, Index: index}
		index++
		if got[i].pos != pos || !bytes.Equal(got[i].enc, e.Encode()) {
			t.Fatalf("scan[%d] = %+v, want the event %s of epoch %d", i, got[i].pos, e.Ref(), e.Epoch)
		}
	}
}

// TestScanPositionOrder: Scan returns events by epoch, then round, then
// insertion order within a round, whatever order they were put in and
// across a reopen.
func TestScanPositionOrder(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			// Round 256 and epoch 1 check the byte order of the key's integers.
			a := event(0, 2, 3, "a")
			b := event(1, 0, 0, "b")
			c := event(0, 2, 1, "c")
			e := event(0, 256, 0, "e")
			f := event(0, 1, 2, "f")
			g := event(0, 2, 0, "g")
			put(t, d, a, b, c, e, f, g)
			all := []*graph.Event{f, a, c, g, e, b}
			checkScan(t, scanAll(t, d, node.Position{}), all)

			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, backend)
			h := event(0, 2, 2, "h") // after the reopen, still last of its round
			put(t, d, h)
			all = []*graph.Event{f, a, c, g, h, e, b}
			checkScan(t, scanAll(t, d, node.Position{}), all)

			t.Run("from a mid position", func(t *testing.T) {
				checkScan(t, scanAll(t, d, node.Position{Epoch: 0, Round: 2}), all[1:])
				checkScan(t, scanAll(t, d, node.Position{Epoch: 0, Round: 3}), all[5:])
				checkScan(t, scanAll(t, d, node.Position{Epoch: 1}), all[6:])
				checkScan(t, scanAll(t, d, node.Position{Epoch: 1, Round: 1}), nil)
			})
			t.Run("from inside a round", func(t *testing.T) {
				// Round 2 of epoch 0 holds a, c, g, h in insertion order: a
				// sync batch that ended after c goes on at index 2.
				checkScanAt(t, scanAll(t, d, node.Position{Epoch: 0, Round: 2, Index: 2}), all[3:], 2)
				checkScanAt(t, scanAll(t, d, node.Position{Epoch: 0, Round: 2, Index: 3}), all[4:], 3)
				checkScan(t, scanAll(t, d, node.Position{Epoch: 0, Round: 2, Index: 4}), all[5:])
				checkScan(t, scanAll(t, d, node.Position{Epoch: 0, Round: 2, Index: 99}), all[5:])
			})
			t.Run("early stop", func(t *testing.T) {
				var got []scanned
				if err := d.Scan(node.Position{}, func(pos node.Position, enc []byte) bool {
					got = append(got, scanned{pos, enc})
					return len(got) < 3
				}); err != nil {
					t.Fatal(err)
				}
				checkScan(t, got, all[:3])
			})
		})
	}
}

// TestScanSlicesAreCallers: the ledger keeps the slices Scan passes as the
// decoded events' encodings, so they must survive the scan and later writes.
func TestScanSlicesAreCallers(t *testing.T) {
	d := open(t, t.TempDir(), GoLevelDB)
	var es []*graph.Event
	for r := range uint64(50) {
		es = append(es, event(0, r, 0, strings.Repeat("x", 100)+fmt.Sprint(r)))
	}
	put(t, d, es...)
	got := scanAll(t, d, node.Position{})
	put(t, d, event(0, 0, 1, "later"))
	scanAll(t, d, node.Position{})
	checkScan(t, got, es)
}

// TestScanWritesFromCallback: the ledger may write from inside a scan; the
// scan sees what was stored when it began.
func TestScanWritesFromCallback(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			d := open(t, t.TempDir(), backend)
			a, b := event(0, 1, 0, "a"), event(0, 2, 0, "b")
			put(t, d, a)
			var got []scanned
			if err := d.Scan(node.Position{}, func(pos node.Position, enc []byte) bool {
				got = append(got, scanned{pos, enc})
				put(t, d, b)
				return true
			}); err != nil {
				t.Fatal(err)
			}
			checkScan(t, got, []*graph.Event{a})
			checkScan(t, scanAll(t, d, node.Position{}), []*graph.Event{a, b})
		})
	}
}

// TestLastSignedSurvivesReopen: a restarted node knows what it signed, so
// it never signs a second event for that round.
func TestLastSignedSurvivesReopen(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			if _, ok, err := d.LastSigned(); ok || err != nil {
				t.Fatalf("new store: LastSigned ok=%v err=%v", ok, err)
			}
			var last node.Signed
			for r := range uint64(3) {
				e := event(2, r, 1, fmt.Sprint("own", r))
				put(t, d, event(2, r, 0, fmt.Sprint("peer", r)), e)
				last = node.Signed{Epoch: e.Epoch, Ref: e.Ref()}
				if err := d.SetLastSigned(last); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, backend)
			got, ok, err := d.LastSigned()
			if err != nil || !ok || got != last {
				t.Fatalf("LastSigned after reopen = %+v, %v, %v; want %+v", got, ok, err, last)
			}
			if enc, ok, err := d.Get(last.Ref.Hash); err != nil || !ok || !bytes.Equal(enc, event(2, 2, 1, "own2").Encode()) {
				t.Fatalf("the signed event after reopen: ok=%v err=%v", ok, err)
			}
		})
	}
}

// TestSetLastSignedChecksTheEvent: the ledger puts its event before
// recording it as signed; a record naming anything else is refused.
func TestSetLastSignedChecksTheEvent(t *testing.T) {
	d := open(t, t.TempDir(), GoLevelDB)
	e := event(0, 4, 1, "own")
	if err := d.SetLastSigned(node.Signed{Ref: e.Ref()}); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Fatalf("signed event not put: err = %v", err)
	}
	put(t, d, e)
	if err := d.SetLastSigned(node.Signed{Epoch: 1, Ref: e.Ref()}); err == nil || !strings.Contains(err.Error(), "epoch 0, round 4") {
		t.Fatalf("signed event at another epoch: err = %v", err)
	}
	if _, ok, _ := d.LastSigned(); ok {
		t.Fatal("a refused record was stored")
	}
}

func TestGetByHash(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			d := open(t, t.TempDir(), backend)
			es := []*graph.Event{event(0, 1, 0, "a"), event(0, 1, 1, "b"), event(3, 9, 2, "c")}
			put(t, d, es...)
			for _, e := range es {
				enc, ok, err := d.Get(e.Hash())
				if err != nil || !ok || !bytes.Equal(enc, e.Encode()) {
					t.Fatalf("Get(%s): ok=%v err=%v", e.Ref(), ok, err)
				}
			}
			if _, ok, err := d.Get(event(0, 1, 0, "absent").Hash()); ok || err != nil {
				t.Fatalf("Get of an absent event: ok=%v err=%v", ok, err)
			}
		})
	}
}

func TestCommittedSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, GoLevelDB)
	if _, _, ok, err := d.Committed(); ok || err != nil {
		t.Fatalf("new store: Committed ok=%v err=%v", ok, err)
	}
	want := node.Position{Epoch: 2, Round: 77}
	for i := range uint64(5) {
		if err := d.SetCommitted(40+i, want); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = open(t, dir, GoLevelDB)
	if idx, pos, ok, err := d.Committed(); idx != 44 || pos != want || !ok || err != nil {
		t.Fatalf("Committed = %d, %+v, %v, %v; want 44, %+v", idx, pos, ok, err, want)
	}
}

// TestSnapshotRetention: only the newest KeepSnapshots are kept, and a
// snapshot older than the newest is refused.
func TestSnapshotRetention(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			if _, ok, err := d.LatestSnapshot(); ok || err != nil {
				t.Fatalf("new store: LatestSnapshot ok=%v err=%v", ok, err)
			}
			for i, idx := range []uint64{10, 255, 256, 1000} {
				if err := d.PutSnapshot(node.Snapshot{Epoch: uint64(i + 1), Commit: idx, Data: []byte(fmt.Sprint("state@", idx))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.PutSnapshot(node.Snapshot{Epoch: 9, Commit: 999, Data: []byte("old")}); err == nil {
				t.Fatal("a snapshot older than the newest was stored")
			}
			if err := d.PutSnapshot(node.Snapshot{Epoch: 4, Commit: 1000, Data: []byte("state@1000 again")}); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, backend)
			keys, err := d.snapshotKeys()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != KeepSnapshots || !bytes.Equal(keys[0], snapshotKey(256)) || !bytes.Equal(keys[1], snapshotKey(1000)) {
				t.Fatalf("stored snapshots %x, want 256 and 1000", keys)
			}
			sn, ok, err := d.LatestSnapshot()
			if sn.Commit != 1000 || sn.Epoch != 4 || string(sn.Data) != "state@1000 again" || !ok || err != nil {
				t.Fatalf("LatestSnapshot = %+v, %v, %v", sn, ok, err)
			}
		})
	}
}

// flip changes one byte of the value stored under the first key in
// [start, end), through the raw db.
func flip(t *testing.T, d *DB, start, end []byte, at int) []byte {
	t.Helper()
	it, err := d.kv.Iterator(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Valid() {
		t.Fatalf("no key in [%x, %x)", start, end)
	}
	k, v := bytes.Clone(it.Key()), bytes.Clone(it.Value())
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	v[(at+len(v))%len(v)] ^= 0x40
	if err := d.kv.SetSync(k, v); err != nil {
		t.Fatal(err)
	}
	return k
}

func wantCorrupt(t *testing.T, err error, names string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	for _, s := range []string{names, "backup", "--rejoin"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
}

// TestCorruptRecordIsAnError: a damaged record stops the start, naming
// the first damaged record and the remedy; a store opened without that
// check stops the read that meets one with the same error. Nothing is
// skipped.
func TestCorruptRecordIsAnError(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			a, b := event(0, 1, 0, "a"), event(0, 2, 0, "b")
			put(t, d, a, b)
			if err := d.SetLastSigned(node.Signed{Ref: b.Ref()}); err != nil {
				t.Fatal(err)
			}
			if err := d.SetCommitted(1, node.Position{Round: 2}); err != nil {
				t.Fatal(err)
			}
			if err := d.PutSnapshot(node.Snapshot{Epoch: 1, Commit: 1, Data: []byte("state")}); err != nil {
				t.Fatal(err)
			}
			flip(t, d, []byte{kindEvent}, []byte{kindEvent + 1}, 20)
			flip(t, d, keyCommitted, []byte{kindCommitted + 1}, 0)
			flip(t, d, []byte{kindSnapshot}, []byte{kindSnapshot + 1}, 5)
			flip(t, d, indexKey(b.Hash()), []byte{kindIndex + 1}, 6)

			// The damage persists across a reopen: it is on disk. The
			// start refuses it, naming the first damaged key.
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{Backend: backend, Key: testKey(1)})
			wantCorrupt(t, err, "commit position")

			d, err = Open(dir, Options{Backend: backend, Key: testKey(1), SkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close() })
			flip(t, d, keyLastSigned, []byte{kindLastSigned + 1}, -1)
			n := 0
			err = d.Scan(node.Position{}, func(node.Position, []byte) bool { n++; return true })
			wantCorrupt(t, err, "event (epoch 0, round 1, seq 0)")
			if n != 0 {
				t.Fatalf("scan passed %d events before the corrupt one, want 0", n)
			}
			_, _, err = d.Get(a.Hash())
			wantCorrupt(t, err, "event (epoch 0, round 1, seq 0)")
			_, _, err = d.Get(b.Hash())
			wantCorrupt(t, err, "index entry of event "+b.Hash().Hex())
			_, _, err = d.LastSigned()
			wantCorrupt(t, err, "last-signed record")
			_, _, _, err = d.Committed()
			wantCorrupt(t, err, "commit position")
			_, _, err = d.LatestSnapshot()
			wantCorrupt(t, err, "snapshot 1")
		})
	}
}

func TestTruncatedRecordIsAnError(t *testing.T) {
	d := open(t, t.TempDir(), GoLevelDB)
	e := event(0, 1, 0, "a")
	put(t, d, e)
	k := eventKey(node.Position{Round: 1}, 0)
	v, err := d.kv.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{v[:len(v)-1], append(bytes.Clone(v), 0), v[:3]} {
		if err := d.kv.Set(k, bad); err != nil {
			t.Fatal(err)
		}
		_, _, err := d.Get(e.Hash())
		wantCorrupt(t, err, "event (epoch 0, round 1, seq 0)")
	}
}

func TestOpenRefusesAnotherKey(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, GoLevelDB)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{Key: testKey(2)})
	if err == nil {
		t.Fatal("a store opened for another node key")
	}
	for _, k := range []ed25519.PublicKey{testKey(1), testKey(2)} {
		if !strings.Contains(err.Error(), fmt.Sprintf("%x", k)) {
			t.Fatalf("error %q does not name key %x", err, k)
		}
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a store opened without a node key")
	}
}

func TestOpenRefusesAnotherFormatVersion(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, GoLevelDB)
	h := binary.BigEndian.AppendUint32(nil, FormatVersion+1)
	h = append(h, testKey(1)...)
	if err := d.kv.SetSync(keyHeader, appendRecord(nil, keyHeader, h)); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{Key: testKey(1)})
	want := fmt.Sprintf("format version %d, but this build reads format version %d", FormatVersion+1, FormatVersion)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

// TestOpenRefusesAHeaderlessStore: records without a header are not taken
// for an empty store.
func TestOpenRefusesAHeaderlessStore(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, GoLevelDB)
	put(t, d, event(0, 1, 0, "a"))
	if err := d.kv.DeleteSync(keyHeader); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Key: testKey(1)}); err == nil || !strings.Contains(err.Error(), "no header") {
		t.Fatalf("err = %v, want a missing header", err)
	}
}

func TestOpenRefusesBadBackends(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Options{Backend: "rocksdb", Key: testKey(1)})
	if err == nil || !strings.Contains(err.Error(), "goleveldb, pebble") {
		t.Fatalf("unknown backend: err = %v", err)
	}
	d := open(t, dir, Pebble)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// A backend switched in the config must not look like a first start.
	if _, err = Open(dir, Options{Backend: GoLevelDB, Key: testKey(1)}); err == nil || !strings.Contains(err.Error(), "holds a pebble store") {
		t.Fatalf("switched backend: err = %v", err)
	}
}

// TestOpenWithoutBackendKeepsTheStoresOwn: an empty Backend opens the
// store the directory holds, whichever backend wrote it, and creates a
// new store on DefaultBackend.
func TestOpenWithoutBackendKeepsTheStoresOwn(t *testing.T) {
	for _, backend := range allBackends {
		dir := t.TempDir()
		d := open(t, dir, backend)
		if err := d.PutEvent(event(0, 1, 0, "a")); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		d = open(t, dir, "")
		if !strings.HasSuffix(d.path, dbName(backend)+".db") {
			t.Fatalf("a %s store opened as %s", backend, d.path)
		}
		if _, ok, err := d.Get(event(0, 1, 0, "a").Hash()); err != nil || !ok {
			t.Fatalf("%s: the event put before is gone: %v %v", backend, ok, err)
		}
	}
	d := open(t, t.TempDir(), "")
	if !strings.HasSuffix(d.path, dbName(DefaultBackend)+".db") {
		t.Fatalf("a new store is %s, want the default backend %s", d.path, DefaultBackend)
	}
}

// TestOpenRefusesALockedStore: a second open in this process, and an open
// while another process holds the store, both fail.
func TestOpenRefusesALockedStore(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			if _, err := Open(dir, Options{Backend: backend, Key: testKey(1)}); err == nil {
				t.Fatal("a store opened twice")
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestHoldStore$")
			cmd.Env = append(os.Environ(), "STORE_HOLD_DIR="+dir, "STORE_HOLD_BACKEND="+backend)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = stdin.Close()
				_ = cmd.Wait()
			}()
			if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "holding\n" {
				t.Fatalf("helper process: %q, %v", line, err)
			}
			_, err = Open(dir, Options{Backend: backend, Key: testKey(1)})
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is locked") {
				t.Fatalf("open while another process holds the store: err = %v", err)
			}
		})
	}
}

// TestHoldStore is the other process of TestOpenRefusesALockedStore: it
// holds the store open until its stdin closes.
func TestHoldStore(t *testing.T) {
	dir := os.Getenv("STORE_HOLD_DIR")
	if dir == "" {
		t.Skip("helper process of TestOpenRefusesALockedStore")
	}
	d, err := Open(dir, Options{Backend: os.Getenv("STORE_HOLD_BACKEND"), Key: testKey(1)})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("holding")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesWhatIsNotAStore: a damaged database, a path that is a
// file, and a missing directory fail instead of starting fresh.
func TestOpenRefusesWhatIsNotAStore(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			put(t, d, event(0, 1, 0, "a"))
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			current := filepath.Join(dir, dbName(backend)+".db", "CURRENT")
			if err := os.WriteFile(current, []byte("not a manifest name\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir, Options{Backend: backend, Key: testKey(1)}); err == nil || !strings.Contains(err.Error(), "--rejoin") {
				t.Fatalf("damaged database: err = %v", err)
			}

			dir = t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, dbName(backend)+".db"), []byte("a file"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir, Options{Backend: backend, Key: testKey(1)}); err == nil {
				t.Fatal("a file opened as a store")
			}
			file := filepath.Join(dir, "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(file, Options{Backend: backend, Key: testKey(1)}); err == nil || !strings.Contains(err.Error(), "not a directory") {
				t.Fatalf("store directory is a file: err = %v", err)
			}
			if _, err := Open(filepath.Join(dir, "missing"), Options{Backend: backend, Key: testKey(1)}); err == nil {
				t.Fatal("a missing directory opened as a store")
			}
		})
	}
}

// TestCloseWaitsForReaders: API goroutines read while the node writes and
// while the store closes; calls after Close fail with ErrClosed.
func TestCloseWaitsForReaders(t *testing.T) {
	d := open(t, t.TempDir(), Pebble)
	es := make([]*graph.Event, 200)
	hashes := make([]graph.Hash, len(es))
	for i := range es {
		es[i] = event(0, uint64(i/4), graph.MemberID(i%4), fmt.Sprint(i))
		hashes[i] = es[i].Hash()
	}
	put(t, d, es[0])
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, _, err := d.Get(hashes[i%len(hashes)])
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	put(t, d, es[1:]...)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := d.PutEvent(es[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutEvent after Close: %v", err)
	}
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestPruneDropsOldEpochs: Prune deletes the events of the epochs below
// its argument and their index entries, in batches, across a reopen, and
// keeps everything else; a second Prune finds nothing more.
func TestPruneDropsOldEpochs(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			var old, kept []*graph.Event
			for ep := range uint64(4) {
				n := 3
				if ep == 1 {
					n = pruneBatch + 10 // more than one batch
				}
				for i := range n {
					e := event(ep, uint64(i/4), graph.MemberID(i%4), fmt.Sprint(ep, "/", i))
					put(t, d, e)
					if ep < 2 {
						old = append(old, e)
					} else {
						kept = append(kept, e)
					}
				}
			}
			if err := d.SetLastSigned(node.Signed{Epoch: 1, Ref: old[len(old)-1].Ref()}); err != nil {
				t.Fatal(err)
			}
			if err := d.Prune(2); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, backend)
			checkScan(t, scanAll(t, d, node.Position{}), kept)
			for _, e := range old {
				if _, ok, err := d.Get(e.Hash()); ok || err != nil {
					t.Fatalf("pruned event %s of epoch %d: ok=%v err=%v", e.Ref(), e.Epoch, ok, err)
				}
			}
			for _, e := range kept {
				if _, ok, err := d.Get(e.Hash()); !ok || err != nil {
					t.Fatalf("kept event %s of epoch %d: ok=%v err=%v", e.Ref(), e.Epoch, ok, err)
				}
			}
			if s, ok, err := d.LastSigned(); !ok || err != nil || s.Epoch != 1 {
				t.Fatalf("last signed after prune: %+v %v %v", s, ok, err)
			}
			if err := d.Prune(2); err != nil {
				t.Fatal(err)
			}
			checkScan(t, scanAll(t, d, node.Position{}), kept)
		})
	}
}

// TestPruneEpochByEpoch: a Prune starts where the one before it ended,
// and still deletes an event stored below that point after it.
func TestPruneEpochByEpoch(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			d := open(t, t.TempDir(), backend)
			byEpoch := map[uint64][]*graph.Event{}
			for ep := range uint64(6) {
				for i := range 5 {
					e := event(ep, uint64(i/4), graph.MemberID(i%4), fmt.Sprint(ep, "/", i))
					put(t, d, e)
					byEpoch[ep] = append(byEpoch[ep], e)
				}
			}
			late := event(0, 9, 0, "late")
			for below := uint64(1); below <= 5; below++ {
				if below == 4 {
					// An event of a pruned epoch arrives late.
					put(t, d, late)
				}
				if err := d.Prune(below); err != nil {
					t.Fatal(err)
				}
				var kept []*graph.Event
				for ep := below; ep < 6; ep++ {
					kept = append(kept, byEpoch[ep]...)
				}
				checkScan(t, scanAll(t, d, node.Position{}), kept)
			}
			if _, ok, err := d.Get(late.Hash()); ok || err != nil {
				t.Fatalf("late event of a pruned epoch: ok=%v err=%v, want it pruned", ok, err)
			}
		})
	}
}

// TestPruneRefusesAGarbledEvent: an event record that holds no event is
// reported as corruption, and nothing after it is deleted.
func TestPruneRefusesAGarbledEvent(t *testing.T) {
	d := open(t, t.TempDir(), GoLevelDB)
	put(t, d, event(0, 1, 0, "a"), event(1, 1, 0, "b"))
	k := eventKey(node.Position{Epoch: 0, Round: 1}, 0)
	if err := d.kv.Set(k, appendRecord(nil, k, []byte{9, 9, 9})); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, d.Prune(2), "event")
}
