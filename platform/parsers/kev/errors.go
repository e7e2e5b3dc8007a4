package kev

import (
	"errors"
	"fmt"
	"strings"
)

// Why a catalogue is rejected. A *ParseError wraps one of these; test with
// errors.Is.
var (
	// ErrEmptyReport: no bytes, or only white space.
	ErrEmptyReport = errors.New("empty feed")
	// ErrMalformed: not the syntax of the form (invalid JSON, not an
	// object, content after it, bad CSV quoting, a header without the
	// required columns, a record with the wrong number of fields).
	ErrMalformed = errors.New("malformed feed")
	// ErrTruncated: the feed ends in the middle.
	ErrTruncated = errors.New("truncated feed")
	// ErrTooLarge: more than MaxFeedBytes, MaxEntries or MaxFieldBytes.
	ErrTooLarge = errors.New("feed too large")
	// ErrMissingField: a required field is absent or empty.
	ErrMissingField = errors.New("missing field")
	// ErrInvalidValue: a field holds a value the feed does not allow.
	ErrInvalidValue = errors.New("invalid value")
	// ErrCountMismatch: count is not the number of entries (a truncated or
	// inconsistent feed).
	ErrCountMismatch = errors.New("count does not match the entries")
	// ErrDuplicate: one CVE id in two entries.
	ErrDuplicate = errors.New("duplicate entry")
)

// ParseError says why and where a feed was rejected: Entry is the 0-based
// entry index (-1 when the error is about the feed as a whole), Line the
// CSV line (0 for JSON), Field the feed's name of the field at fault.
type ParseError struct {
	Format Format
	Entry  int
	Line   int
	CVEID  string
	Field  string
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Format))
	switch {
	case e.Line > 0:
		fmt.Fprintf(&b, ": line %d", e.Line)
	case e.Entry >= 0:
		fmt.Fprintf(&b, ": entry %d", e.Entry)
	}
	if e.CVEID != "" {
		fmt.Fprintf(&b, " (%s)", e.CVEID)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }
