package kev

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/threatintel"
)

// Format is a KEV catalogue form.
type Format string

const (
	FormatJSON Format = "kev-json"
	FormatCSV  Format = "kev-csv"
)

// Limits.
const (
	// MaxFeedBytes bounds a feed (the real one is about 1.5 MB in 2025).
	MaxFeedBytes = 64 << 20
	// MaxEntries bounds the entries of a feed (about 1,500 in 2025).
	MaxEntries = 100_000
	// MaxFieldBytes bounds each text of an entry (the longest notes are
	// about 1 KB).
	MaxFieldBytes = 64 << 10
)

// Options of a parse.
type Options struct {
	// AllowPartial accepts a JSON feed whose count is larger than its
	// entries: an excerpt of a real feed. Never for a feed fetched from
	// CISA, where a short count means a truncated file.
	AllowPartial bool
}

var bom = []byte("\xef\xbb\xbf")

// Detect tells the form of a feed from its first bytes: a JSON object is
// kev-json, a CSV header beginning with the cveID column kev-csv; ok is
// false otherwise.
func Detect(head []byte) (Format, bool) {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n")
	switch {
	case len(head) == 0:
		return "", false
	case head[0] == '{':
		return FormatJSON, bytes.Contains(head, []byte(`"vulnerabilities"`)) || bytes.Contains(head, []byte(`"catalogVersion"`))
	case bytes.HasPrefix(head, []byte("cveID,")), bytes.HasPrefix(head, []byte(`"cveID",`)):
		return FormatCSV, true
	}
	return "", false
}

// Parse reads a whole catalogue in form f and validates it. A read error
// of r comes back wrapped (not a *ParseError); every fault of the feed is
// a *ParseError.
func Parse(ctx context.Context, r io.Reader, f Format, opts Options) (threatintel.Catalogue, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFeedBytes+1))
	if err != nil {
		return threatintel.Catalogue{}, fmt.Errorf("kev: reading the feed: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return threatintel.Catalogue{}, err
	}
	if len(data) > MaxFeedBytes {
		return threatintel.Catalogue{}, &ParseError{Format: f, Entry: -1, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxFeedBytes)}
	}
	data = bytes.TrimPrefix(data, bom)
	if len(bytes.TrimSpace(data)) == 0 {
		return threatintel.Catalogue{}, &ParseError{Format: f, Entry: -1, Err: ErrEmptyReport}
	}
	var c threatintel.Catalogue
	switch f {
	case FormatJSON:
		c, err = parseJSON(data)
	case FormatCSV:
		c, err = parseCSV(data)
	default:
		return threatintel.Catalogue{}, fmt.Errorf("kev: unknown format %q", f)
	}
	if err != nil {
		return threatintel.Catalogue{}, err
	}
	if err := ctx.Err(); err != nil {
		return threatintel.Catalogue{}, err
	}
	if problems := c.Validate(opts.AllowPartial); len(problems) > 0 {
		return threatintel.Catalogue{}, problemError(f, problems)
	}
	return c, nil
}

// problemError reports the first problem, and how many there are.
func problemError(f Format, problems []threatintel.EntryProblem) error {
	p := problems[0]
	var kind error
	switch p.Kind {
	case threatintel.ProblemMissing:
		kind = ErrMissingField
	case threatintel.ProblemDuplicate:
		kind = ErrDuplicate
	case threatintel.ProblemCount:
		kind = ErrCountMismatch
	default:
		kind = ErrInvalidValue
	}
	msg := p.Issue
	if len(problems) > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", len(problems)-1)
	}
	pe := &ParseError{Format: f, Entry: p.Index, CVEID: p.CVEID, Field: p.Field, Err: fmt.Errorf("%w: %s", kind, msg)}
	if f == FormatCSV && p.Index >= 0 {
		pe.Line = p.Index + 2
	}
	return pe
}

type jsonFeed struct {
	Title           string            `json:"title"`
	CatalogVersion  *string           `json:"catalogVersion"`
	DateReleased    *string           `json:"dateReleased"`
	Count           *int              `json:"count"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type jsonEntry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"`
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`
	ForensicTriage             string   `json:"forensicTriage"`
}

func parseJSON(data []byte) (threatintel.Catalogue, error) {
	feedErr := func(field string, err error) error {
		return &ParseError{Format: FormatJSON, Entry: -1, Field: field, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var feed jsonFeed
	if err := dec.Decode(&feed); err != nil {
		return threatintel.Catalogue{}, jsonError(FormatJSON, -1, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return threatintel.Catalogue{}, feedErr("", fmt.Errorf("%w: content after the JSON object", ErrMalformed))
	}
	c := threatintel.Catalogue{Title: feed.Title}
	switch {
	case feed.CatalogVersion == nil || strings.TrimSpace(*feed.CatalogVersion) == "":
		return c, feedErr("catalogVersion", fmt.Errorf("%w: absent or empty", ErrMissingField))
	case feed.DateReleased == nil || *feed.DateReleased == "":
		return c, feedErr("dateReleased", fmt.Errorf("%w: absent or empty", ErrMissingField))
	case feed.Count == nil:
		return c, feedErr("count", fmt.Errorf("%w: absent", ErrMissingField))
	case feed.Vulnerabilities == nil:
		return c, feedErr("vulnerabilities", fmt.Errorf("%w: absent", ErrMissingField))
	case *feed.Count < 0:
		return c, feedErr("count", fmt.Errorf("%w: %d", ErrInvalidValue, *feed.Count))
	case len(feed.Vulnerabilities) > MaxEntries:
		return c, feedErr("vulnerabilities", fmt.Errorf("%w: more than %d entries", ErrTooLarge, MaxEntries))
	}
	c.Version = strings.TrimSpace(*feed.CatalogVersion)
	released, err := time.Parse(time.RFC3339Nano, *feed.DateReleased)
	if err != nil {
		return c, feedErr("dateReleased", fmt.Errorf("%w: %q is not an RFC 3339 time", ErrInvalidValue, *feed.DateReleased))
	}
	c.ReleasedAt = released.UTC()
	c.Count = *feed.Count
	c.Entries = make([]threatintel.KEVEntry, 0, len(feed.Vulnerabilities))
	for i, raw := range feed.Vulnerabilities {
		var je jsonEntry
		if err := json.Unmarshal(raw, &je); err != nil {
			return c, jsonError(FormatJSON, i, err)
		}
		e, perr := entryOf(je)
		if perr != nil {
			perr.Format, perr.Entry = FormatJSON, i
			return c, perr
		}
		c.Entries = append(c.Entries, e)
	}
	return c, nil
}

// entryOf converts and checks the forms of one entry's fields; Validate
// checks the rest (required fields, id forms).
func entryOf(je jsonEntry) (threatintel.KEVEntry, *ParseError) {
	fail := func(field string, err error) *ParseError {
		return &ParseError{CVEID: je.CVEID, Field: field, Err: err}
	}
	for field, v := range map[string]string{"cveID": je.CVEID, "vendorProject": je.VendorProject, "product": je.Product,
		"vulnerabilityName": je.VulnerabilityName, "shortDescription": je.ShortDescription, "requiredAction": je.RequiredAction,
		"notes": je.Notes, "knownRansomwareCampaignUse": je.KnownRansomwareCampaignUse, "forensicTriage": je.ForensicTriage} {
		if len(v) > MaxFieldBytes {
			return threatintel.KEVEntry{}, fail(field, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(v), MaxFieldBytes))
		}
	}
	e := threatintel.KEVEntry{
		CVEID: strings.TrimSpace(je.CVEID), VendorProject: je.VendorProject, Product: je.Product,
		VulnerabilityName: je.VulnerabilityName, ShortDescription: je.ShortDescription, RequiredAction: je.RequiredAction,
		Ransomware: threatintel.Ransomware(strings.TrimSpace(je.KnownRansomwareCampaignUse)), Notes: je.Notes,
		ForensicTriage: strings.TrimSpace(je.ForensicTriage),
	}
	if e.Ransomware == "" {
		e.Ransomware = threatintel.RansomwareUnknown
	}
	for _, c := range je.CWEs {
		if c = strings.TrimSpace(c); c != "" {
			e.CWEs = append(e.CWEs, c)
		}
	}
	var err error
	if e.DateAdded, err = date(je.DateAdded); err != nil {
		return e, fail("dateAdded", err)
	}
	if e.DueDate, err = date(je.DueDate); err != nil {
		return e, fail("dueDate", err)
	}
	return e, nil
}

// date parses a feed date; "" is the zero time (Validate names it missing).
func date(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(threatintel.DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is not a date (YYYY-MM-DD)", ErrInvalidValue, s)
	}
	return t, nil
}

func jsonError(f Format, entry int, err error) error {
	pe := &ParseError{Format: f, Entry: entry}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		pe.Err = fmt.Errorf("%w: the feed ends before its JSON is closed", ErrTruncated)
	case errors.As(err, &syn):
		pe.Err = fmt.Errorf("%w: %v (byte %d)", ErrMalformed, syn, syn.Offset)
	case errors.As(err, &typ):
		pe.Field = typ.Field
		if typ.Field == "" {
			pe.Err = fmt.Errorf("%w: a JSON %s where the feed has an object", ErrMalformed, typ.Value)
		} else {
			pe.Err = fmt.Errorf("%w: a JSON %s where the feed has %s", ErrInvalidValue, typ.Value, typ.Type)
		}
	default:
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return pe
}

// csvRequired are the columns a KEV CSV header must name;
// knownRansomwareCampaignUse, notes, cwes and forensicTriage are read when
// present.
var csvRequired = []string{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded", "shortDescription", "requiredAction", "dueDate"}

func parseCSV(data []byte) (threatintel.Catalogue, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return threatintel.Catalogue{}, csvError(1, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, name := range csvRequired {
		if _, ok := col[name]; !ok {
			return threatintel.Catalogue{}, &ParseError{Format: FormatCSV, Entry: -1, Line: 1, Field: name,
				Err: fmt.Errorf("%w: the header has no %s column (a KEV CSV starts cveID,vendorProject,...)", ErrMalformed, name)}
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	c := threatintel.Catalogue{Count: -1, Entries: []threatintel.KEVEntry{}}
	for i := 0; ; i++ {
		line, _ := r.FieldPos(0)
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, csvError(line+1, err)
		}
		if line, _ = r.FieldPos(0); i >= MaxEntries {
			return c, &ParseError{Format: FormatCSV, Entry: i, Line: line, Err: fmt.Errorf("%w: more than %d entries", ErrTooLarge, MaxEntries)}
		}
		je := jsonEntry{}
		je.CVEID, je.VendorProject, je.Product = get(rec, "cveID"), get(rec, "vendorProject"), get(rec, "product")
		je.VulnerabilityName, je.DateAdded, je.ShortDescription = get(rec, "vulnerabilityName"), get(rec, "dateAdded"), get(rec, "shortDescription")
		je.RequiredAction, je.DueDate, je.KnownRansomwareCampaignUse = get(rec, "requiredAction"), get(rec, "dueDate"), get(rec, "knownRansomwareCampaignUse")
		je.Notes, je.ForensicTriage = get(rec, "notes"), get(rec, "forensicTriage")
		if cwes := strings.TrimSpace(get(rec, "cwes")); cwes != "" {
			je.CWEs = strings.Split(cwes, ",")
		}
		e, perr := entryOf(je)
		if perr != nil {
			perr.Format, perr.Entry, perr.Line = FormatCSV, i, line
			return c, perr
		}
		c.Entries = append(c.Entries, e)
	}
	return c, nil
}

func csvError(line int, err error) error {
	pe := &ParseError{Format: FormatCSV, Entry: -1, Line: line}
	var pErr *csv.ParseError
	if errors.As(err, &pErr) {
		pe.Line = pErr.Line
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, pErr.Err)
		return pe
	}
	if err == io.EOF {
		pe.Err = ErrEmptyReport
		return pe
	}
	pe.Err = fmt.Errorf("%w: %v", ErrMalformed, err)
	return pe
}
