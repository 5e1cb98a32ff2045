package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagger/graph"
	"dagger/node"
)

// filled opens a store in a new directory, puts n events of about 300
// bytes each, signs the last one and closes the store: its records are
// then in the backend's log, not yet in a table. It returns the
// directory and the events.
func filled(t *testing.T, backend string, n int) (string, []*graph.Event) {
	t.Helper()
	dir := t.TempDir()
	d, err := Open(dir, Options{Backend: backend, Key: testKey(1)})
	if err != nil {
		t.Fatal(err)
	}
	es := make([]*graph.Event, n)
	for i := range es {
		es[i] = event(1, uint64(i+1), 0, fmt.Sprintf("%03d%s", i, strings.Repeat("x", 300)))
	}
	put(t, d, es...)
	if err := d.SetLastSigned(node.Signed{Epoch: 1, Ref: es[n-1].Ref()}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, es
}

// dbFiles lists the files in the store's database directory whose names
// end in suffix, oldest (lowest number) first.
func dbFiles(t *testing.T, dir, backend, suffix string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, dbName(backend)+".db"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			fs = append(fs, filepath.Join(dir, dbName(backend)+".db", e.Name()))
		}
	}
	slices.Sort(fs)
	if len(fs) == 0 {
		t.Fatalf("no *%s file in the %s store", suffix, backend)
	}
	return fs
}

// newestLog is the log the store's last writes went to.
func newestLog(t *testing.T, dir, backend string) string {
	fs := dbFiles(t, dir, backend, ".log")
	return fs[len(fs)-1]
}

func flipFileByte(t *testing.T, file string, at int64) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// refused opens the store in dir and wants the open to fail with an
// error that says each of says and the remedy.
func refused(t *testing.T, dir, backend string, says ...string) {
	t.Helper()
	d, err := Open(dir, Options{Backend: backend, Key: testKey(1)})
	if err == nil {
		d.Close()
		t.Fatalf("the damaged %s store opened", backend)
	}
	for _, s := range append(says, "--rejoin", "learns its own latest events from its peers") {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
	t.Logf("%s: %v", backend, err)
}

// reopen opens the store in dir and wants every event of es back and s
// as its last signed event.
func reopen(t *testing.T, dir, backend string, es []*graph.Event, s node.Signed) *DB {
	t.Helper()
	d := open(t, dir, backend)
	checkScan(t, scanAll(t, d, node.Position{}), es)
	got, ok, err := d.LastSigned()
	if err != nil || !ok || got != s {
		t.Fatalf("LastSigned = %v, %v, %v; want %v", got, ok, err, s)
	}
	return d
}

// TestOpenRefusesAFlippedLogByte: a byte flipped in the middle of the log,
// with intact records after it, is refused naming the file; the backends
// would otherwise drop the records around it and start.
func TestOpenRefusesAFlippedLogByte(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir, _ := filled(t, backend, 300)
			log := newestLog(t, dir, backend)
			flipFileByte(t, log, fileSize(t, log)/2)
			refused(t, dir, backend, log, "is damaged")
		})
	}
}

// TestOpenRefusesALogCutShort: a log cut to half loses the last-signed
// record, and cut to nothing the whole store; the mark says what the
// store held, and both are refused. So is a database directory that is
// gone.
func TestOpenRefusesALogCutShort(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			for _, c := range []struct {
				name string
				cut  func(t *testing.T, dir string)
				says string
			}{
				{"half", func(t *testing.T, dir string) {
					log := newestLog(t, dir, backend)
					if err := os.Truncate(log, fileSize(t, log)/2); err != nil {
						t.Fatal(err)
					}
				}, "lost writes or was restored from an older copy"},
				{"zero", func(t *testing.T, dir string) {
					if err := os.Truncate(newestLog(t, dir, backend), 0); err != nil {
						t.Fatal(err)
					}
				}, "is empty, but its mark"},
				{"gone", func(t *testing.T, dir string) {
					if err := os.RemoveAll(filepath.Join(dir, dbName(backend)+".db")); err != nil {
						t.Fatal(err)
					}
				}, "is empty, but its mark"},
			} {
				t.Run(c.name, func(t *testing.T) {
					dir, es := filled(t, backend, 300)
					c.cut(t, dir)
					refused(t, dir, backend, c.says, "epoch 1 round 300")
					_ = es
				})
			}
		})
	}
}

// TestOpenRefusesAFlippedTableByte: a byte flipped in a table file is
// found at open, by reading the whole store, not by the first read that
// needs it.
func TestOpenRefusesAFlippedTableByte(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir, _ := filled(t, backend, 300)
			d := open(t, dir, backend)
			if err := d.kv.Compact(nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			suffix := ".ldb"
			if backend == Pebble {
				suffix = ".sst"
			}
			// The newest table holds the compacted store; an older one
			// may be left for deletion.
			tables := dbFiles(t, dir, backend, suffix)
			table := tables[len(tables)-1]
			flipFileByte(t, table, fileSize(t, table)/3)
			refused(t, dir, backend, "verify store")
		})
	}
}

// TestOpenRefusesAMissingOrDamagedMark: without its mark a store cannot
// show that it is not older than what the node signed.
func TestOpenRefusesAMissingOrDamagedMark(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir, _ := filled(t, backend, 3)
			markPath := filepath.Join(dir, dbName(backend)+".mark")
			b, err := os.ReadFile(markPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(markPath); err != nil {
				t.Fatal(err)
			}
			refused(t, dir, backend, "has a mark, but its file "+markPath+" is missing")

			// Both slots damaged.
			b[20] ^= 1
			b[markSlotSpan+20] ^= 1
			if err := os.WriteFile(markPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			refused(t, dir, backend, "holds no valid slot")
		})
	}
}

// TestOpenRefusesAnOlderCopy: a database put back from a copy taken before
// the node last signed is refused against the mark.
func TestOpenRefusesAnOlderCopy(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, backend)
			a, b := event(1, 1, 0, "a"), event(1, 2, 0, "b")
			put(t, d, a)
			if err := d.SetLastSigned(node.Signed{Epoch: 1, Ref: a.Ref()}); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, dbName(backend)+".db")
			backup := filepath.Join(t.TempDir(), "backup")
			copyDir(t, db, backup)

			d = open(t, dir, backend)
			put(t, d, b)
			if err := d.SetLastSigned(node.Signed{Epoch: 1, Ref: b.Ref()}); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(db); err != nil {
				t.Fatal(err)
			}
			copyDir(t, backup, db)
			refused(t, dir, backend, "says this node last signed epoch 1 round 1", "says epoch 1 round 2", "restored from an older copy")
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAcceptsATornTail: the newest log ending in an incomplete record,
// the write a crash cut short, is dropped with a warning; everything
// before it is there.
func TestOpenAcceptsATornTail(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			dir, es := filled(t, backend, 300)
			log := newestLog(t, dir, backend)
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			// The first 100 bytes of the log: a chunk header that promises
			// more than follows.
			f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(b[:100]); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			reopen(t, dir, backend, es, node.Signed{Epoch: 1, Ref: es[len(es)-1].Ref()})
		})
	}
}

// TestMarkFollowsTheStore: a store written before marks existed gets one;
// a mark one signature behind the store (a crash between the two writes)
// is brought up to date; a crash while creating the store leaves a mark
// the next start finishes the creation from; a mark with one torn slot
// still has the other.
func TestMarkFollowsTheStore(t *testing.T) {
	for _, backend := range allBackends {
		t.Run(backend, func(t *testing.T) {
			markPath := func(dir string) string { return filepath.Join(dir, dbName(backend)+".mark") }
			dir, es := filled(t, backend, 3)
			last := node.Signed{Epoch: 1, Ref: es[2].Ref()}

			// Before marks: no file and no flag.
			d := open(t, dir, backend)
			if err := d.kv.DeleteSync(keyMarked); err != nil {
				t.Fatal(err)
			}
			d.Close()
			if err := os.Remove(markPath(dir)); err != nil {
				t.Fatal(err)
			}
			reopen(t, dir, backend, es, last).Close()
			m, ok, err := readMark(markPath(dir))
			if err != nil || !ok || m.state != markCreated || !m.signed || m.last != last {
				t.Fatalf("mark after opening a store without one: %+v, %v, %v", m, ok, err)
			}

			// The mark behind the store.
			behind, err := os.ReadFile(markPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, backend)
			e := event(1, 4, 0, "d")
			put(t, d, e)
			next := node.Signed{Epoch: 1, Ref: e.Ref()}
			if err := d.SetLastSigned(next); err != nil {
				t.Fatal(err)
			}
			d.Close()
			if err := os.WriteFile(markPath(dir), behind, 0o600); err != nil {
				t.Fatal(err)
			}
			reopen(t, dir, backend, append(es, e), next).Close()
			if m, _, _ := readMark(markPath(dir)); m.last != next {
				t.Fatalf("mark says %v after a start, want %v", m.last, next)
			}

			// One slot torn: the other, one write older, is read. Tear
			// the newer one and the start still finds the store ahead.
			b, err := os.ReadFile(markPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			m, _, _ = readMark(markPath(dir))
			torn := bytes.Clone(b)
			off := int(m.gen%2) * markSlotSpan
			clear(torn[off+30 : off+markSlotSize])
			if err := os.WriteFile(markPath(dir), torn, 0o600); err != nil {
				t.Fatal(err)
			}
			if o, ok, err := readMark(markPath(dir)); err != nil || !ok || o.gen != m.gen-1 {
				t.Fatalf("mark with its newer slot torn: %+v, %v, %v; want generation %d", o, ok, err, m.gen-1)
			}
			reopen(t, dir, backend, append(es, e), next).Close()

			// A crash after the mark said creating, before the header.
			dir = t.TempDir()
			mf, err := createMark(markPath(dir), mark{state: markCreating, key: testKey(1)})
			if err != nil {
				t.Fatal(err)
			}
			mf.close()
			open(t, dir, backend).Close()
			if m, _, _ := readMark(markPath(dir)); m.state != markCreated {
				t.Fatalf("mark state %d after creating the store, want %d", m.state, markCreated)
			}
		})
	}
}

// TestOpenRefusesAnotherKeysMark: a mark of another node key is refused
// before anything is opened.
func TestOpenRefusesAnotherKeysMark(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, GoLevelDB).Close()
	if err := os.RemoveAll(filepath.Join(dir, dbName(GoLevelDB)+".db")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{Backend: GoLevelDB, Key: testKey(2)})
	if err == nil || !strings.Contains(err.Error(), "belongs to node key") {
		t.Fatalf("err = %v, want a refusal of another key's mark", err)
	}
}
