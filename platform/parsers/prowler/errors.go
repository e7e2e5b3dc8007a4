package prowler

import (
	"errors"
	"fmt"
	"strings"
)

// Why a report is rejected. A *ParseError wraps one of these; test with
// errors.Is.
var (
	// ErrEmptyReport: the report has no bytes, or only white space.
	ErrEmptyReport = errors.New("empty report")
	// ErrMalformed: the bytes are not the syntax of the format (invalid
	// JSON, a JSON object or scalar where an array is expected, a CSV
	// header that is not Prowler's, bad CSV quoting, a row with the wrong
	// number of fields, content after the JSON array).
	ErrMalformed = errors.New("malformed report")
	// ErrTruncated: the report ends in the middle of an element or before
	// the JSON array is closed.
	ErrTruncated = errors.New("truncated report")
	// ErrTooLarge: one element (JSON) or record (CSV) is larger than
	// MaxElementBytes.
	ErrTooLarge = errors.New("element too large")
	// ErrMissingField: an element lacks a field every observation needs
	// (check, result, provider, account, time).
	ErrMissingField = errors.New("missing field")
	// ErrInvalidValue: a field holds a value the format does not allow (an
	// unknown result or severity, a time that is not one, an identifier
	// longer than MaxIdentifierBytes, an element of another tool).
	ErrInvalidValue = errors.New("invalid value")
	// ErrTooManyDistinct: the report names more distinct checks or accounts
	// than the limits allow (MaxDistinctChecks, MaxDistinctAccounts).
	ErrTooManyDistinct = errors.New("too many distinct values")
)

// ParseError says why and where a report was rejected. Element is the
// 0-based index of the JSON array element (-1 when the error is not about
// one element), Line the CSV line (1-based; 0 for JSON formats), Offset the
// byte offset where the element or record starts (-1 when unknown), Field
// the field as the report names it ("status_code", "STATUS",
// "Compliance.Status"; "" when the error is about the whole element).
type ParseError struct {
	Format  Format
	Element int
	Line    int
	Offset  int64
	Field   string
	Err     error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Format))
	switch {
	case e.Line > 0:
		fmt.Fprintf(&b, ": line %d", e.Line)
	case e.Element >= 0:
		fmt.Fprintf(&b, ": element %d", e.Element)
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

// fieldError is what a converter returns: the field at fault and why; the
// parser adds where.
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

func wrapField(field string, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{field: field, err: err}
}
