package trivy

import (
	"errors"
	"fmt"
	"strings"
)

// Why a report is rejected. A *ParseError wraps one of these; test with
// errors.Is.
var (
	// ErrEmptyReport: no bytes, or only white space.
	ErrEmptyReport = errors.New("empty report")
	// ErrMalformed: not Trivy's JSON (invalid JSON, a scalar, an object
	// where an array is expected, content after the report).
	ErrMalformed = errors.New("malformed report")
	// ErrTruncated: the report ends before its JSON is closed.
	ErrTruncated = errors.New("truncated report")
	// ErrTooLarge: one element larger than MaxElementBytes, an identifier
	// longer than MaxIdentifierBytes, or a result's items held beyond
	// MaxHeldItems.
	ErrTooLarge = errors.New("element too large")
	// ErrMissingField: a field every item needs is absent or empty.
	ErrMissingField = errors.New("missing field")
	// ErrInvalidValue: a value Trivy does not write (an unknown severity or
	// status, a time that is not one, an unsupported SchemaVersion or
	// ArtifactType).
	ErrInvalidValue = errors.New("invalid value")
	// ErrTooManyDistinct: more distinct vulnerabilities, packages or
	// results than the limits allow.
	ErrTooManyDistinct = errors.New("too many distinct values")
)

// ParseError says why and where a report was rejected: the path of the
// element at fault as Trivy names it ("Results[2].Vulnerabilities[17]",
// "Metadata"; "" for the report as a whole), the byte offset where it
// starts (-1 when unknown) and the field ("Severity").
type ParseError struct {
	Format Format
	Path   string
	Offset int64
	Field  string
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Format))
	if e.Path != "" {
		fmt.Fprintf(&b, ": %s", e.Path)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Offset)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// fieldError is what a converter returns: the field at fault and why.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func missing(field string) error {
	return &fieldError{field: field, err: fmt.Errorf("%w: absent or empty", ErrMissingField)}
}

func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidValue}, args...)...)}
}
