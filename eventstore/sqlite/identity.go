package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cspm-es/cspm-es/eventstore"
)

// fileIdentity remembers which file the store opened, so that the store
// notices when its path no longer names that file: deleted, or replaced
// by another one. SQLite keeps writing into a file unlinked under it, and
// every append acknowledged after that would be lost at the next start;
// instead, appends fail with eventstore.ErrUnavailable (the API answers
// 503) and HeadPosition, hence readiness, fails too, naming the file.
//
// A check is one stat(2) of the path (a microsecond or so): appends check
// once before a group's transaction and once after its commit, before
// acknowledging it, so no append is acknowledged into a file that was gone
// when it committed; the relay's reads and HeadPosition check too. The
// check is not sticky: a file moved back to its path is the store again.
type fileIdentity struct {
	path string
	info os.FileInfo                       // as opened
	stat func(string) (os.FileInfo, error) // os.Stat; tests interpose
}

// newFileIdentity records the file at path (the store has just opened it).
func newFileIdentity(path string) (*fileIdentity, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("event store file %s: %w", path, err)
	}
	return &fileIdentity{path: path, info: info, stat: os.Stat}, nil
}

// ErrFileLost marks the failures of a store whose file was removed or
// replaced under it; such errors also wrap eventstore.ErrUnavailable.
var ErrFileLost = errors.New("the event store file was removed or replaced")

// check fails when the path no longer names the file that was opened. A
// nil identity (a read-only store) always passes.
func (f *fileIdentity) check() error {
	if f == nil {
		return nil
	}
	now, err := f.stat(f.path)
	switch {
	case err == nil && os.SameFile(f.info, now):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w: %s no longer exists; nothing more is written or acknowledged "+
			"(restore the file and restart, or restore from a backup)", eventstore.ErrUnavailable, ErrFileLost, f.path)
	case err != nil:
		return fmt.Errorf("%w: %w: cannot stat %s: %w", eventstore.ErrUnavailable, ErrFileLost, f.path, err)
	}
	return fmt.Errorf("%w: %w: %s is another file than the one this process opened; nothing more is written or "+
		"acknowledged (restart to open the new file)", eventstore.ErrUnavailable, ErrFileLost, f.path)
}

// checkFile is the store's identity check (see fileIdentity).
func (s *Store) checkFile() error { return s.file.check() }

// failLost fails the calls of a group because the file is gone: those not
// started with err, those already written (committed into the lost file)
// with err too, so that none of them is acknowledged.
func failLost(calls []*appendCall, err error) {
	for _, c := range calls {
		c.res, c.err = nil, fmt.Errorf("%s: %w", c.what, err)
	}
}
