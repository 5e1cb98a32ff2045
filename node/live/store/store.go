package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	dbm "github.com/cometbft/cometbft-db"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// FormatVersion is the layout this package writes and reads; Open refuses
// any other.
const FormatVersion = 1

// Backends a store can run on.
const (
	GoLevelDB = "goleveldb"
	Pebble    = "pebble"
)

// DefaultBackend is the backend of a new store when Options.Backend is
// empty. Pebble keeps up with the event rate of a loaded node where
// goleveldb stalls: the hash index's random keys share goleveldb's
// memtable with the sequential event keys, so every L0 table overlaps all
// of L1 and each L0 compaction rewrites L1 whole (2.7 s for 200 MB seen at
// 30,000 tx/s), while pebble splits its flushes and compacts L0 in
// sublevels and in parallel. Measured side by side with `dagger bench
// live --rates 30000,50000 --duration 30s` (README, Benchmarks).
const DefaultBackend = Pebble

// backends lists every backend in the order error messages name them.
var backends = []string{GoLevelDB, Pebble}

// ErrLocked is returned by Open when another process (or another Open in
// this one) holds the store.
var ErrLocked = errors.New("it is locked")

// ErrClosed is returned by calls on a closed store.
var ErrClosed = errors.New("store is closed")

// Options configure Open.
type Options struct {
	// Backend is GoLevelDB or Pebble; empty means the backend of the
	// store dir holds, or DefaultBackend for a new store.
	Backend string
	// Key is the node's public key; the store is bound to it on creation
	// and refuses to open for another key.
	Key ed25519.PublicKey
	// Logger receives a line when a store is created or opened; nil
	// discards.
	Logger *slog.Logger
	// SkipVerify skips reading the whole store at Open to check every
	// table's checksums (see verify). Damage is then found by the first
	// read that meets it, which stops the node.
	SkipVerify bool
}

// DB is a node.Store on disk. See the package comment for which methods
// may run concurrently.
type DB struct {
	kv      dbm.DB
	closeKV func() error
	path    string
	// mark is the store's witness of itself (mark.go); markPath its file.
	mark     *markFile
	markPath string

	// nextSeq and scratch belong to the writing goroutine.
	nextSeq uint64
	scratch []byte
	// pruned is the epoch below which the last Prune deleted every event,
	// and stored the lowest epoch of an event put since that Prune began:
	// the next Prune starts at the lower of the two rather than at the
	// first event key, where it would step over the tombstones of every
	// earlier Prune the backend has not compacted away yet (reading the
	// deleted tables' blocks to do so). Both start at 0.
	pruned, stored atomic.Uint64

	mu     sync.Mutex
	idle   sync.Cond // signalled when active drops to zero after close
	active int
	closed bool
}

// Open opens the store in dir, an existing directory, creating it on the
// first open. It fails, and never starts an empty store in its place, when
// the store is locked by another process, unreadable, of another format or
// backend, bound to another node key, damaged anywhere (a log, a table, a
// record), or emptier or older than its mark says it was (lost, cut short,
// or restored from an older copy): see damage.go and mark.go.
func Open(dir string, opt Options) (*DB, error) {
	pinMallocThresholds()
	if opt.Backend == "" {
		opt.Backend = DefaultBackend
		for _, b := range backends {
			if _, err := os.Stat(filepath.Join(dir, dbName(b)+".db")); err == nil {
				opt.Backend = b
				break
			}
		}
	}
	if !slices.Contains(backends, opt.Backend) {
		return nil, fmt.Errorf("open store: unknown backend %q; known backends: %s", opt.Backend, strings.Join(backends, ", "))
	}
	if len(opt.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("open store: the node's ed25519 public key is %d bytes, want %d", len(opt.Key), ed25519.PublicKeySize)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open store: %s is not a directory", dir)
	}
	for _, b := range backends {
		if b == opt.Backend {
			continue
		}
		// A changed backend setting must not look like a first start.
		if _, err := os.Stat(filepath.Join(dir, dbName(b)+".db")); err == nil {
			return nil, fmt.Errorf("open store: %s holds a %s store but the configured backend is %s; set the backend back to %s",
				dir, b, opt.Backend, b)
		}
	}
	d := &DB{path: filepath.Join(dir, dbName(opt.Backend)+".db"), markPath: filepath.Join(dir, dbName(opt.Backend)+".mark")}
	d.idle.L = &d.mu
	m, marked, err := readMark(d.markPath)
	if err != nil {
		return nil, fmt.Errorf("open store: %w; %s", err, d.remedy())
	}
	if marked && !bytes.Equal(m.key, opt.Key) {
		return nil, fmt.Errorf("store mark %s belongs to node key %s, not to this node's key %s; point this node at its own data directory",
			d.markPath, hex.EncodeToString(m.key), hex.EncodeToString(opt.Key))
	}
	if opt.Backend == Pebble {
		err = checkPebbleWALs(d.path)
		if err == nil {
			// Pebble wraps its default file system in a disk-health checker
			// whose goroutine only its DB.Close stops, so a failed Open (a
			// locked store) would leave it running: the store owns it.
			fs, fsCloser := vfs.WithDiskHealthChecks(vfs.Default, 5*time.Second, func(i vfs.DiskSlowInfo) {
				log.Warn("slow disk", "backend", Pebble, "op", i.String())
			})
			var p *dbm.PebbleDB
			p, err = dbm.NewPebbleDBWithOpts(dbName(Pebble), dir, pebbleOptions(log, fs))
			if err == nil {
				// The wrapper's Close drops pebble's error; close pebble itself.
				d.kv, d.closeKV = p, func() error { return errors.Join(p.DB().Close(), fsCloser.Close()) }
			} else {
				_ = fsCloser.Close()
			}
		}
	} else {
		var g *dbm.GoLevelDB
		g, err = openGoLevelDB(dir, log)
		if err == nil {
			d.kv, d.closeKV = g, g.Close
		}
	}
	if errors.As(err, new(logDamage)) {
		return nil, fmt.Errorf("%w; %s", err, d.remedy())
	}
	if err != nil {
		// Both backends take an advisory lock (flock, fcntl) that fails
		// with EAGAIN while another process holds it; pebble also keeps
		// its own table of the locks this process holds.
		if errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held by current process") {
			return nil, fmt.Errorf("open store %s: %w, most likely by another node process using this directory; stop that process first: %w", d.path, ErrLocked, err)
		}
		return nil, fmt.Errorf("open store %s: %w; if another node process uses this directory, stop it first; if the store is damaged, %s",
			d.path, err, d.remedy())
	}
	created, err := d.checkHeader(opt.Key, m, marked)
	if err == nil {
		err = d.loadSeq()
	}
	if err == nil {
		err = d.checkMark()
	}
	if err == nil && !opt.SkipVerify && !created {
		err = d.verify(log)
	}
	if err != nil {
		return nil, errors.Join(err, d.mark.close(), d.closeKV())
	}
	if created {
		log.Info("store created", "path", d.path, "backend", opt.Backend, "format_version", FormatVersion)
	} else {
		log.Info("store opened", "path", d.path, "backend", opt.Backend, "next_seq", d.nextSeq)
	}
	return d, nil
}

// goLevelDBOptions tune goleveldb for a store written once and in bulk.
// BenchmarkPutEvent (100 txs of 256 bytes an event) spent 80% of its CPU
// in compaction and half of that in snappy, which gains little on
// transactions full of keys, signatures and hashes; without compression and
// with a 32 MiB memtable (goleveldb's default is 4 MiB) and 8 MiB tables, an
// event costs about half as much.
func goLevelDBOptions() *opt.Options {
	return &opt.Options{Compression: opt.NoCompression, WriteBuffer: 32 << 20, CompactionTableSize: 8 << 20}
}

// pebbleOptions tune pebble for a store written in bulk, mostly in key
// order, and deleted an epoch at a time. With pebble's defaults (4 MiB
// memtables, a 64 MiB base level) a node taking 45,000 tx/s spent 35% of
// its CPU compacting; with 64 MiB memtables and a 512 MiB base level,
// 10% at 40,000 tx/s (CPU profiles of a devnet node under `dagger bench
// load`). Memory: at most 4 memtables, 256 MiB.
func pebbleOptions(log *slog.Logger, fs vfs.FS) *pebble.Options {
	return &pebble.Options{Logger: pebbleLogger{log}, FS: fs,
		MemTableSize: 64 << 20, MemTableStopWritesThreshold: 4,
		L0StopWritesThreshold: 24, LBaseMaxBytes: 512 << 20}
}

// pebbleLogger sends pebble's log lines to the node's logger instead of
// the standard library's.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "backend", Pebble)
}

// Fatalf is how pebble reports a state it cannot continue from, such as a
// failed log sync; like pebble's own logger it ends the process, which a
// node must not outlive with an unknown store.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "backend", Pebble)
	os.Exit(1)
}

func dbName(backend string) string { return "store-" + backend }

// remedy tells the operator what to do about a store that cannot be
// trusted. A store restored from a backup may be older than what the key
// has signed, so the remedy is always --rejoin, which learns the node's
// latest events from its peers before it signs again.
func (d *DB) remedy() string {
	return fmt.Sprintf("move %s and %s aside (or put a backup of both in their place) and start the node with --rejoin, so that it learns its own latest events from its peers before it signs again",
		d.path, d.markPath)
}

// damaged adds the remedy to a read error.
func (d *DB) damaged(err error) error { return fmt.Errorf("%w; %s", err, d.remedy()) }

// checkHeader writes the header of an empty store, or checks the stored
// one against key; m is the mark read from the mark file, if marked. It
// opens or creates the mark and reports whether it created the store.
func (d *DB) checkHeader(key ed25519.PublicKey, m mark, marked bool) (bool, error) {
	v, err := d.kv.Get(keyHeader)
	if err != nil {
		return false, d.damaged(fmt.Errorf("read store header: %w", err))
	}
	if v == nil {
		empty, err := d.emptyRange(nil, nil)
		if err != nil {
			return false, err
		}
		if !empty {
			return false, fmt.Errorf("store %s holds records but no header: it was not written by this program, or its header is lost; %s",
				d.path, d.remedy())
		}
		if marked && m.state == markCreated {
			return false, fmt.Errorf("store %s is empty, but its mark %s says it was created and that this node signed %s: the database was lost or cut short; %s",
				d.path, d.markPath, describeSigned(m.signed, m.last), d.remedy())
		}
		return true, d.create(key, m, marked)
	}
	h, err := decodeRecord(keyHeader, v)
	if err != nil {
		return false, d.damaged(err)
	}
	if len(h) < 4 {
		return false, d.damaged(corrupt(keyHeader, "payload is %d bytes, too short for a format version", len(h)))
	}
	if ver := binary.BigEndian.Uint32(h); ver != FormatVersion {
		return false, fmt.Errorf("store %s has format version %d, but this build reads format version %d; run a build that reads version %d",
			d.path, ver, FormatVersion, ver)
	}
	if len(h) != headerSize {
		return false, d.damaged(corrupt(keyHeader, "payload is %d bytes, want %d", len(h), headerSize))
	}
	if stored := h[4:]; !bytes.Equal(stored, key) {
		return false, fmt.Errorf("store %s belongs to node key %s, not to this node's key %s; point this node at its own data directory",
			d.path, hex.EncodeToString(stored), hex.EncodeToString(key))
	}
	return false, d.openMark(key, m, marked)
}

// create writes the header of a new store between the two states of its
// mark (see markCreating).
func (d *DB) create(key ed25519.PublicKey, m mark, marked bool) error {
	var err error
	if marked {
		d.mark, err = openMark(d.markPath, m)
	} else {
		d.mark, err = createMark(d.markPath, mark{state: markCreating, key: key})
	}
	if err != nil {
		return err
	}
	h := make([]byte, 0, headerSize)
	h = binary.BigEndian.AppendUint32(h, FormatVersion)
	h = append(h, key...)
	b := d.kv.NewBatch()
	defer b.Close()
	err = errors.Join(
		b.Set(keyHeader, appendRecord(nil, keyHeader, h)),
		b.Set(keyMarked, appendRecord(nil, keyMarked, nil)),
	)
	if err == nil {
		err = b.WriteSync()
	}
	if err != nil {
		return fmt.Errorf("write store header: %w", err)
	}
	return d.mark.write(mark{state: markCreated})
}

// openMark opens the mark of a store that has a header. A store written
// before marks existed gets one; a store that had one must still have it.
func (d *DB) openMark(key ed25519.PublicKey, m mark, marked bool) error {
	v, err := d.kv.Get(keyMarked)
	if err != nil {
		return d.damaged(fmt.Errorf("read %s: %w", describeKey(keyMarked), err))
	}
	if v != nil {
		if _, err := decodeFixed(keyMarked, v, 0); err != nil {
			return d.damaged(err)
		}
	}
	switch {
	case v != nil && !marked:
		return fmt.Errorf("store %s has a mark, but its file %s is missing: without it the store cannot show that it is not older than what this node signed; %s",
			d.path, d.markPath, d.remedy())
	case marked:
		d.mark, err = openMark(d.markPath, m)
	default:
		d.mark, err = createMark(d.markPath, mark{state: markCreating, key: key})
	}
	if err != nil {
		return err
	}
	if v == nil {
		if err := d.kv.SetSync(keyMarked, appendRecord(nil, keyMarked, nil)); err != nil {
			return fmt.Errorf("write %s: %w", describeKey(keyMarked), err)
		}
	}
	return nil
}

// checkMark compares the store's last-signed record with the mark's, once
// the store is open: a store behind its mark lost the record or was
// replaced by an older copy. A store ahead of it (a crash between the
// store's write and the mark's) brings the mark up to date.
func (d *DB) checkMark() error {
	last, signed, err := d.lastSigned()
	if err != nil {
		return err
	}
	m := d.mark.cur
	if m.signed && (!signed || before(last, m.last)) {
		return fmt.Errorf("store %s says this node last signed %s, but its mark %s says %s: the store lost writes or was restored from an older copy, and signing from it could sign a second event for a round; %s",
			d.path, describeSigned(signed, last), d.markPath, describeSigned(m.signed, m.last), d.remedy())
	}
	if m.state != markCreated || signed != m.signed || last != m.last {
		m.state, m.signed, m.last = markCreated, signed, last
		return d.mark.write(m)
	}
	return nil
}

// loadSeq reads the sequence counter. It is written with every event, so
// only a store without events may lack it.
func (d *DB) loadSeq() error {
	v, err := d.kv.Get(keySeq)
	if err != nil {
		return d.damaged(fmt.Errorf("read %s: %w", describeKey(keySeq), err))
	}
	if v == nil {
		empty, err := d.emptyRange([]byte{kindEvent}, []byte{kindEvent + 1})
		if err != nil {
			return err
		}
		if !empty {
			return d.damaged(fmt.Errorf("%w %s: missing while events are stored", ErrCorrupt, describeKey(keySeq)))
		}
		return nil
	}
	p, err := decodeFixed(keySeq, v, seqSize)
	if err != nil {
		return d.damaged(err)
	}
	d.nextSeq = binary.BigEndian.Uint64(p)
	return nil
}

// emptyRange reports whether no key lies in [start, end).
func (d *DB) emptyRange(start, end []byte) (bool, error) {
	it, err := d.kv.Iterator(start, end)
	if err != nil {
		return false, d.damaged(fmt.Errorf("read store: %w", err))
	}
	empty := !it.Valid()
	err = errors.Join(it.Error(), it.Close())
	if err != nil {
		return false, d.damaged(fmt.Errorf("read store: %w", err))
	}
	return empty, nil
}

// enter admits a call unless the store is closed; leave ends it.
func (d *DB) enter() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.active++
	return nil
}

func (d *DB) leave() {
	d.mu.Lock()
	d.active--
	if d.active == 0 && d.closed {
		d.idle.Broadcast()
	}
	d.mu.Unlock()
}

// Close waits for the calls in progress and closes the store. It must not
// be called from inside a Scan callback, which would wait for itself.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	for d.active > 0 {
		d.idle.Wait()
	}
	d.mu.Unlock()
	return errors.Join(d.mark.close(), d.closeKV())
}
