package store

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	dbm "github.com/cometbft/cometbft-db"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/journal"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Both backends keep their recent writes in logs (goleveldb's journal and
// manifest, pebble's WAL) of 32 KiB blocks of checksummed chunks, and
// both, by default, recover a log by dropping what fails its checksum and
// carrying on: a flipped byte silently loses the records around it. The
// store must not start on lost records, with one exception every log
// format makes: the newest log may end with one incomplete record, the
// write a crash cut short (a record larger than a block goes to the file
// in several writes; a power failure may persist part of a page). Such a
// write was never acknowledged, so dropping it loses nothing.
//
// The rule the store applies is: damage anywhere in a log that intact
// records follow, or in any but the newest log, refuses the start; damage
// that only intact records precede, in the newest log, is a cut-short
// write and is dropped with a warning. What the rule cannot see (records
// lost with the tail of the newest log, say a log cut in half) the mark
// catches where it matters: the last-signed record (see mark.go). Lost
// events are fetched again from peers, as after any crash (their writes
// are not synced).

// logDamage is an error about a damaged log, which Open reports with the
// remedy.
type logDamage struct{ error }

func (e logDamage) Unwrap() error { return e.error }

// openGoLevelDB opens the goleveldb store in dir with every strict check
// on, so that goleveldb reports damage instead of dropping it, and when
// it does, tells a cut-short write from damage (see above).
func openGoLevelDB(dir string, log *slog.Logger) (*dbm.GoLevelDB, error) {
	o := goLevelDBOptions()
	o.Strict = opt.StrictAll
	g, err := dbm.NewGoLevelDBWithOpts(dbName(GoLevelDB), dir, o)
	if err == nil || !lerrors.IsCorrupted(err) {
		return g, err
	}
	path := filepath.Join(dir, dbName(GoLevelDB)+".db")
	torn, bad := examineLevelDBLogs(path)
	if bad != nil {
		return nil, bad
	}
	if len(torn) == 0 {
		return nil, err // the damage lies elsewhere: goleveldb's error says where
	}
	for _, f := range torn {
		if strings.HasPrefix(f, "MANIFEST-") {
			o.Strict &^= opt.StrictManifest
		} else {
			o.Strict &^= opt.StrictJournal
		}
		log.Warn("store log ends with an incomplete record, a write a crash cut short; dropping it", "file", filepath.Join(path, f))
	}
	return dbm.NewGoLevelDBWithOpts(dbName(GoLevelDB), dir, o)
}

// examineLevelDBLogs reads goleveldb's logs in path (the journals and the
// current manifest) without goleveldb's strictness and sorts what it drops:
// torn lists the logs that end with a cut-short write, and bad is an
// error naming a log with damage the store must not start on.
func examineLevelDBLogs(path string) (torn []string, bad error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("read store directory: %w", err)
	}
	var journals []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if _, err := strconv.ParseUint(n, 10, 64); err == nil {
				journals = append(journals, e.Name())
			}
		}
	}
	slices.Sort(journals) // zero-padded numbers: name order is age order
	logs := slices.Clone(journals)
	if cur, err := os.ReadFile(filepath.Join(path, "CURRENT")); err == nil {
		if m := strings.TrimSpace(string(cur)); strings.HasPrefix(m, "MANIFEST-") {
			logs = append(logs, m)
		}
	}
	for _, name := range logs {
		// Only the current manifest and the newest journal are written to.
		newest := strings.HasPrefix(name, "MANIFEST-") || (len(journals) > 0 && name == journals[len(journals)-1])
		file := filepath.Join(path, name)
		dropped, after, err := scanLevelDBLog(file)
		switch {
		case err != nil:
			return nil, fmt.Errorf("read store log %s: %w", file, err)
		case dropped == 0:
		case after > 0 || !newest:
			return nil, logDamage{fmt.Errorf("store log %s is damaged: %d bytes of it fail their checksums and %d intact records follow them; the store lost writes it had acknowledged",
				file, dropped, after)}
		default:
			torn = append(torn, name)
		}
	}
	return torn, nil
}

// scanLevelDBLog reads a goleveldb log and returns how many bytes fail
// their checks and how many intact records follow the first of them.
func scanLevelDBLog(file string) (dropped, after int, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var d dropCounter
	r := journal.NewReader(f, &d, false, true)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return d.bytes + d.partial, after, nil
		}
		if err != nil {
			return 0, 0, err
		}
		if _, err := io.Copy(io.Discard, rec); err != nil {
			d.partial++ // a record whose later chunks are missing
			continue
		}
		if d.bytes+d.partial > 0 {
			after++
		}
	}
}

// dropCounter is goleveldb's journal.Dropper: it adds up what the reader
// skips.
type dropCounter struct{ bytes, partial int }

func (d *dropCounter) Drop(err error) {
	var c *journal.ErrCorrupted
	if errors.As(err, &c) {
		d.bytes += max(c.Size, 1)
	} else {
		d.bytes++
	}
}

// checkPebbleWALs applies the rule above to pebble's write-ahead logs
// before pebble opens them: pebble refuses damage in any but its newest
// log but takes the first bad chunk of the newest for its end, dropping
// whatever intact records follow. A recycled log's stale tail carries
// the old log's number and is never taken for a record of this one.
func checkPebbleWALs(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // a store not yet created
		}
		return fmt.Errorf("read store directory: %w", err)
	}
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		num, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		file := filepath.Join(path, e.Name())
		if err := scanPebbleWAL(file, pebble.FileNum(num)); err != nil {
			return logDamage{fmt.Errorf("store log %s is damaged: %w; the store lost writes it had acknowledged", file, err)}
		}
	}
	return nil
}

// scanPebbleWAL reads a WAL and, at its first bad chunk, looks for an
// intact record in the blocks after it.
func scanPebbleWAL(file string, num pebble.FileNum) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	const block = 32 << 10
	var base, bad int64 = 0, -1
	var badErr error
	for base < fi.Size() {
		r := record.NewReader(io.NewSectionReader(f, base, fi.Size()-base), num)
		for {
			off := r.Offset()
			rec, err := r.Next()
			if err == nil {
				_, err = io.Copy(io.Discard, rec)
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if bad < 0 {
					bad, badErr = base+off, err
				}
				// Go on at the block after the one the bad record starts in.
				base = (base+off)/block*block + block
				break
			}
			if bad >= 0 {
				return fmt.Errorf("the record at byte %d fails its checks (%v) and an intact record follows at byte %d", bad, badErr, base+off)
			}
		}
	}
	return nil
}

// verify reads every key and value of the store, which makes both
// backends check the checksum of every block of every table, and checks
// every record's own frame: a flipped byte in a table or a record is found
// now, with the remedy, and not by the first read that happens to need it.
func (d *DB) verify(log *slog.Logger) error {
	start := time.Now()
	it, err := d.kv.Iterator(nil, nil)
	if err != nil {
		return d.damaged(fmt.Errorf("verify store %s: %w", d.path, err))
	}
	var keys, size int
	for ; it.Valid() && err == nil; it.Next() {
		keys++
		size += len(it.Key()) + len(it.Value())
		_, err = decodeRecord(it.Key(), it.Value())
	}
	err = cmp.Or(err, it.Error())
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return d.damaged(fmt.Errorf("verify store %s: %w", d.path, err))
	}
	log.Info("store verified", "path", d.path, "keys", keys, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
