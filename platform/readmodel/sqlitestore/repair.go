package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// A module database can be lost in two ways the store notices, and one
// way to repair both:
//
//   - corrupt: SQLite reports the file malformed or not a database
//     (isCorrupt), at open or on any statement. Open still succeeds, in a
//     broken state where every call fails with readmodel.ErrCorrupt (and
//     ErrUnavailable: the API answers 503), so the process starts and the
//     other databases serve.
//   - missing: the path no longer names the file the store opened
//     (deleted, or replaced). SQLite would go on writing into the unlinked
//     file, and everything written would vanish at the next start; instead
//     writes fail before their commit, and reads once the store has
//     noticed (a stat at most every identityInterval, and before every
//     write), with ErrCorrupt.
//
// Reset repairs: it moves the file (and its -wal and -shm) aside as
// <name>.sqlite.corrupt-<UTC time>, kept for forensics, and opens a fresh,
// empty database. The projections runtime resets a database when a
// rebuild meets ErrCorrupt, then rebuilds every projection in it.

// identityInterval bounds how stale a read's view of the file's identity
// may be (writes check it every time).
const identityInterval = time.Second

// fileWatch remembers which file the store opened.
type fileWatch struct {
	path    string
	info    os.FileInfo
	checked atomic.Int64          // unix nanoseconds of the last stat
	lost    atomic.Pointer[error] // the last stat's verdict (nil: the same file)
}

func newFileWatch(path string) (*fileWatch, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	w := &fileWatch{path: path, info: info}
	w.checked.Store(time.Now().UnixNano())
	return w, nil
}

// check stats the path when forced or when the last stat is older than
// identityInterval, and returns the verdict (nil: still the same file).
func (w *fileWatch) check(force bool) error {
	if w == nil {
		return nil
	}
	now := time.Now().UnixNano()
	if !force && now-w.checked.Load() < int64(identityInterval) {
		if e := w.lost.Load(); e != nil {
			return *e
		}
		return nil
	}
	w.checked.Store(now)
	st, err := os.Stat(w.path)
	var verdict error
	switch {
	case err == nil && os.SameFile(w.info, st):
	case errors.Is(err, fs.ErrNotExist):
		verdict = fmt.Errorf("%w: %w: %s no longer exists", readmodel.ErrUnavailable, readmodel.ErrCorrupt, w.path)
	case err != nil:
		verdict = fmt.Errorf("%w: %w: cannot stat %s: %w", readmodel.ErrUnavailable, readmodel.ErrCorrupt, w.path, err)
	default:
		verdict = fmt.Errorf("%w: %w: %s is another file than the one this process opened", readmodel.ErrUnavailable, readmodel.ErrCorrupt, w.path)
	}
	if verdict == nil {
		w.lost.Store(nil)
	} else {
		w.lost.Store(&verdict)
	}
	return verdict
}

// brokenError is the error of a store whose file could not be opened as a
// database.
func brokenError(path string, err error) error {
	return fmt.Errorf("%w: %w: %s: %w", readmodel.ErrUnavailable, readmodel.ErrCorrupt, path, err)
}

// usable reports why the store cannot serve (closed, broken, file lost),
// or nil. Callers hold hmu (read) or wsem.
func (s *Store) usable(force bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if s.broken != nil {
		return s.broken
	}
	return s.watch.check(force)
}

// readLock is what every read takes: the store's handles cannot be
// replaced (Reset) until release.
func (s *Store) readLock() (release func(), err error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	s.hmu.RLock()
	if err := s.usable(false); err != nil {
		s.hmu.RUnlock()
		return nil, err
	}
	return s.hmu.RUnlock, nil
}

// Reset moves the database file aside (with its -wal and -shm files) as
// <path>.corrupt-<UTC time> and opens a fresh, empty database in its
// place: no collections, no checkpoints. It waits for the write in flight
// and the reads in flight; reads and writes started meanwhile wait for it.
// aside is where the old file went ("" when there was none: a file that
// was removed). The caller rebuilds whatever lived in the database.
func (s *Store) Reset(ctx context.Context) (aside string, err error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	s.hmu.Lock()
	defer s.hmu.Unlock()

	_ = s.closeHandles() // a corrupt file may fail to close cleanly: it is being replaced
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	target := s.path + ".corrupt-" + stamp
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Rename(s.path+suffix, target+suffix)
		switch {
		case err == nil:
			if suffix == "" {
				aside = target
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			s.broken = brokenError(s.path, fmt.Errorf("reset: move aside: %w", err))
			return aside, fmt.Errorf("reset %s: move %s aside: %w", s.path, s.path+suffix, err)
		}
	}
	if err := s.open(ctx); err != nil {
		s.broken = brokenError(s.path, fmt.Errorf("reset: %w", err))
		return aside, fmt.Errorf("reset %s: open a fresh database: %w", s.path, unavailable(err))
	}
	s.broken = nil
	return aside, nil
}
