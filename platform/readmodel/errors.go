package readmodel

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no document with that _id (or no such collection, for
	// operations that need one, such as RenameCollections).
	ErrNotFound = errors.New("readmodel: not found")
	// ErrDuplicate: a write violated a unique index. The error is a
	// *DuplicateError naming the collection and index; errors.Is(err,
	// ErrDuplicate) holds.
	ErrDuplicate = errors.New("readmodel: duplicate key")
	// ErrInvalid: a bad argument (name, path, filter, sort, cursor, limit,
	// document value, batch); nothing was read or written.
	ErrInvalid = errors.New("readmodel: invalid argument")
	// ErrUnavailable: the store cannot serve right now (closed, database
	// down or unreachable, disk full, lock timeout); the API answers 503.
	ErrUnavailable = errors.New("readmodel: unavailable")
	// ErrCorrupt: the database is damaged or gone (SQLite: a file that is
	// not a database or is malformed, or that was removed or replaced
	// under the store). Such errors also wrap ErrUnavailable. Rebuilding a
	// projection of that database repairs it (projections: the database is
	// recreated and every projection in it rebuilt).
	ErrCorrupt = errors.New("readmodel: database corrupt or missing (`cspm projections rebuild` recreates it)")
)

// DuplicateError is the ErrDuplicate a unique-index violation returns.
type DuplicateError struct {
	Collection string // the collection written (may be empty if the backend did not say)
	Index      string // the index's declared name ("" if the backend did not say)
}

func (e *DuplicateError) Error() string {
	idx := e.Index
	if idx == "" {
		idx = "(unknown)"
	}
	return fmt.Sprintf("readmodel: duplicate key in %s: unique index %s", e.Collection, idx)
}

// Is makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Invalidf returns an error wrapping ErrInvalid.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
