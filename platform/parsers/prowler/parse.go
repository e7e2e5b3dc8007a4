package prowler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// Limits. They bound the memory a parse uses whatever the report's size.
const (
	// MaxElementBytes is the largest JSON array element or CSV record
	// accepted. Real Prowler findings are 3-20 KB (most of it the
	// resource's metadata dump in OCSF).
	MaxElementBytes = 4 << 20
	// MaxIdentifierBytes bounds each identifier of an observation: check,
	// provider, account, region, and the report's scan id and tool version.
	// A longer one is an error, never truncated.
	MaxIdentifierBytes = 1024
	// MaxDistinctChecks and MaxDistinctAccounts bound the Summary's sets
	// (Prowler has about 1,000 checks over all providers; an
	// organisation-wide report names one account per member account).
	MaxDistinctChecks   = 10_000
	MaxDistinctAccounts = 100_000
	// maxDistinctSmall bounds the providers and tool versions a report may
	// name.
	maxDistinctSmall = 100
)

// Counts are observations by result, and how many of them the tool muted
// (muted ones are also counted in their result).
type Counts struct {
	Fail, Pass, Manual, Muted int
}

// Total is the number of observations counted.
func (c Counts) Total() int { return c.Fail + c.Pass + c.Manual }

func (c *Counts) add(o *cloudsecurity.Observation) {
	switch o.Result {
	case cloudsecurity.ResultFail:
		c.Fail++
	case cloudsecurity.ResultPass:
		c.Pass++
	case cloudsecurity.ResultManual:
		c.Manual++
	}
	if o.Muted {
		c.Muted++
	}
}

// Account is an account (subscription, project, cluster...) a report names.
type Account struct {
	Provider string
	UID      string
	Name     string
}

// Summary describes what a parse read. After an error it covers the
// observations emitted before it.
type Summary struct {
	Format Format
	// ToolVersion is Prowler's version when the report names exactly one
	// ("" when it names none, as Prowler 3 JSON and CSV do, or several);
	// ToolVersions lists every version named, sorted.
	ToolVersion  string
	ToolVersions []string
	// Observations is the number emitted; Results counts them by result.
	Observations int
	Results      Counts
	// BySeverity counts observations by severity ("" for none); ByCheck
	// counts them by check and result.
	BySeverity map[cloudsecurity.Severity]int
	ByCheck    map[string]Counts
	// FirstObservedAt and LastObservedAt bound the observations' times
	// (zero for an empty report).
	FirstObservedAt time.Time
	LastObservedAt  time.Time
	// ScanID is the report's own scan id when it names exactly one (OCSF
	// unmapped.scan_id, Prowler 5.x; Prowler writes one per provider
	// account, so a multi-account report names several); ScanIDs lists
	// every one, sorted.
	ScanID  string
	ScanIDs []string
	// Providers and Accounts the report names, sorted.
	Providers []string
	Accounts  []Account
	// Skipped counts elements that are not observations and were left out
	// on purpose: ASFF findings whose RecordState is ARCHIVED (no longer
	// current in Security Hub).
	Skipped int
}

type accountKey struct{ provider, uid string }

// summary accumulates a Summary with bounded sets.
type summary struct {
	s        Summary
	versions map[string]bool
	scans    map[string]bool
	provs    map[string]bool
	accounts map[accountKey]string
}

func newSummary(f Format) *summary {
	return &summary{
		s: Summary{
			Format:     f,
			BySeverity: map[cloudsecurity.Severity]int{},
			ByCheck:    map[string]Counts{},
		},
		versions: map[string]bool{},
		scans:    map[string]bool{},
		provs:    map[string]bool{},
		accounts: map[accountKey]string{},
	}
}

func addBounded(set map[string]bool, v string, limit int, what string) error {
	if v == "" || set[v] {
		return nil
	}
	if len(set) >= limit {
		return fmt.Errorf("%w: more than %d distinct %s", ErrTooManyDistinct, limit, what)
	}
	set[v] = true
	return nil
}

func (a *summary) add(o *cloudsecurity.Observation, scanID string) error {
	if err := addBounded(a.versions, o.ToolVersion, maxDistinctSmall, "tool versions"); err != nil {
		return wrapField("tool version", err)
	}
	if err := addBounded(a.provs, o.Provider, maxDistinctSmall, "providers"); err != nil {
		return wrapField("provider", err)
	}
	if err := addBounded(a.scans, scanID, MaxDistinctAccounts, "scan ids"); err != nil {
		return wrapField("scan id", err)
	}
	key := accountKey{o.Provider, o.AccountUID}
	if _, ok := a.accounts[key]; !ok {
		if len(a.accounts) >= MaxDistinctAccounts {
			return wrapField("account", fmt.Errorf("%w: more than %d distinct accounts", ErrTooManyDistinct, MaxDistinctAccounts))
		}
		a.accounts[key] = o.AccountName
	}
	c, ok := a.s.ByCheck[o.CheckID]
	if !ok && len(a.s.ByCheck) >= MaxDistinctChecks {
		return wrapField("check", fmt.Errorf("%w: more than %d distinct checks", ErrTooManyDistinct, MaxDistinctChecks))
	}
	c.add(o)
	a.s.ByCheck[o.CheckID] = c
	a.s.Results.add(o)
	a.s.BySeverity[o.Severity]++
	a.s.Observations++
	if a.s.FirstObservedAt.IsZero() || o.ObservedAt.Before(a.s.FirstObservedAt) {
		a.s.FirstObservedAt = o.ObservedAt
	}
	if o.ObservedAt.After(a.s.LastObservedAt) {
		a.s.LastObservedAt = o.ObservedAt
	}
	return nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (a *summary) finish() Summary {
	s := a.s
	s.ToolVersions = sortedKeys(a.versions)
	if len(s.ToolVersions) == 1 {
		s.ToolVersion = s.ToolVersions[0]
	}
	s.ScanIDs = sortedKeys(a.scans)
	if len(s.ScanIDs) == 1 {
		s.ScanID = s.ScanIDs[0]
	}
	s.Providers = sortedKeys(a.provs)
	s.Accounts = make([]Account, 0, len(a.accounts))
	for k, name := range a.accounts {
		s.Accounts = append(s.Accounts, Account{Provider: k.provider, UID: k.uid, Name: name})
	}
	slices.SortFunc(s.Accounts, func(x, y Account) int {
		if c := strings.Compare(x.Provider, y.Provider); c != 0 {
			return c
		}
		return strings.Compare(x.UID, y.UID)
	})
	return s
}

// source wraps the report: it counts the bytes read, refuses to read past
// a position (so one element cannot grow a buffer without bound) and keeps
// the first read error, which is the caller's I/O failure rather than the
// report's.
type source struct {
	r     io.Reader
	pos   int64
	limit int64 // reads stop here; < 0: no limit
	err   error
}

// errPastLimit is what source returns past its limit; the parser turns it
// into ErrTooLarge for the element being read.
var errPastLimit = errors.New("read past the element limit")

func (s *source) Read(p []byte) (int, error) {
	if s.limit >= 0 {
		if s.pos >= s.limit {
			return 0, errPastLimit
		}
		if room := s.limit - s.pos; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readPrefix reads the report up to its first byte that is not white space
// (after a UTF-8 byte order mark). It returns the bytes read from that byte
// on, how many bytes were skipped and how many line breaks among them;
// ErrEmptyReport when there is nothing else.
func (s *source) readPrefix() (rest []byte, skipped int64, newlines int, err error) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	bomChecked := false
	for {
		n, rerr := s.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if !bomChecked && (len(buf) >= 3 || rerr != nil) {
			bomChecked = true
			if len(buf) >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF {
				buf = buf[3:]
				skipped += 3
			}
		}
		if bomChecked {
			i := 0
			for i < len(buf) && isSpace(buf[i]) {
				if buf[i] == '\n' {
					newlines++
				}
				i++
			}
			skipped += int64(i)
			buf = buf[i:]
			if len(buf) > 0 {
				return buf, skipped, newlines, nil
			}
		}
		if rerr == io.EOF {
			return nil, skipped, newlines, ErrEmptyReport
		}
		if rerr != nil {
			return nil, skipped, newlines, rerr
		}
		if skipped > MaxElementBytes {
			return nil, skipped, newlines, fmt.Errorf("%w: more than %d bytes of white space", ErrMalformed, MaxElementBytes)
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// emitError marks an error returned by the caller's emit, so Parse returns
// it as it is.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// parser is one Parse call.
type parser struct {
	ctx    context.Context
	format Format
	src    *source
	sum    *summary
	emit   func(cloudsecurity.Observation) error
}

// Parse reads a report of format f from r and calls emit once per
// observation, in report order. It streams: memory is bounded by
// MaxElementBytes and the Summary's sets, not by the report's size (it
// never reads the report whole).
//
// A report that does not parse is rejected with a *ParseError naming the
// element (JSON) or line (CSV), the field and why; it wraps one of
// ErrEmptyReport, ErrMalformed, ErrTruncated, ErrTooLarge, ErrMissingField,
// ErrInvalidValue, ErrTooManyDistinct. Parse is pure and keeps nothing: when
// it fails, emit may already have been called for the elements before the
// one at fault, and the caller must discard what it received (reject the
// whole report). An error returned by emit stops the parse and is returned
// as it is; so is the context's error; a failure reading r is returned
// wrapped ("reading the report: ...") and is not a *ParseError.
//
// An empty JSON array and a CSV with only its header row are valid empty
// reports: Summary.Observations is 0.
func Parse(ctx context.Context, r io.Reader, f Format, emit func(cloudsecurity.Observation) error) (Summary, error) {
	p := &parser{ctx: ctx, format: f, src: &source{r: r, limit: -1}, sum: newSummary(f), emit: emit}
	if !f.Valid() {
		return p.sum.finish(), fmt.Errorf("prowler: %w %q", ErrUnknownFormatName, f)
	}
	var err error
	switch f {
	case FormatOCSF:
		err = parseJSONArray(p, p.fromOCSF)
	case FormatNativeJSON:
		err = parseJSONArray(p, p.fromNative)
	case FormatASFF:
		err = parseJSONArray(p, p.fromASFF)
	case FormatCSV:
		err = p.parseCSV()
	case FormatComplianceCSV:
		err = p.parseComplianceCSV()
	}
	return p.sum.finish(), p.classify(err)
}

// classify returns the caller's errors (emit, context, reading r) as they
// are and everything else as the report's fault.
func (p *parser) classify(err error) error {
	if err == nil {
		return nil
	}
	var ee *emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	if ctxErr := p.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	if p.src.err != nil {
		return fmt.Errorf("prowler: reading the report: %w", p.src.err)
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe
	}
	return &ParseError{Format: p.format, Element: -1, Offset: -1, Err: err}
}

// accept checks what every observation needs, counts it and emits it.
func (p *parser) accept(o *cloudsecurity.Observation, scanID string) error {
	for _, id := range []struct{ field, value string }{
		{"check", o.CheckID}, {"provider", o.Provider}, {"account", o.AccountUID},
		{"region", o.Region}, {"scan id", scanID}, {"tool version", o.ToolVersion},
	} {
		if len(id.value) > MaxIdentifierBytes {
			return invalid(id.field, "longer than %d bytes (%d)", MaxIdentifierBytes, len(id.value))
		}
	}
	o.Tool = Tool
	if err := p.sum.add(o, scanID); err != nil {
		return err
	}
	if err := p.emit(*o); err != nil {
		return &emitError{err: err}
	}
	return nil
}

// elementError places a converter's or decoder's error.
func (p *parser) elementError(index int, line int, offset int64, err error) error {
	var ee *emitError
	if errors.As(err, &ee) {
		return err
	}
	pe := &ParseError{Format: p.format, Element: index, Line: line, Offset: offset, Err: err}
	var fe *fieldError
	if errors.As(err, &fe) {
		pe.Field, pe.Err = fe.field, fe.err
	}
	return pe
}
