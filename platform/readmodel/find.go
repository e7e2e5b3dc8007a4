package readmodel

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	MaxSortKeys  = 8
	maxCursorLen = 8 << 10
)

// SortField orders by one dotted path.
type SortField struct {
	Path string
	Desc bool
}

// Asc sorts by path, smallest first (missing and null first).
func Asc(path string) SortField { return SortField{Path: path} }

// Desc sorts by path, largest first (missing and null last).
func Desc(path string) SortField { return SortField{Path: path, Desc: true} }

// FindOptions selects a page of a collection.
type FindOptions struct {
	Filter Filter
	// Sort orders the results; _id is always the last key (the tie-break),
	// in the direction of the last field given (ascending if none). Sort
	// fields should hold one type (plus missing/null) and never arrays.
	Sort []SortField
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// Cursor is the NextCursor of the previous page ("" for the first). It
	// is only valid with the same Sort.
	Cursor string
}

// Page is one page of results.
type Page struct {
	Docs []Doc
	// NextCursor continues after the last document; "" on the last page.
	NextCursor string
}

// FindPlan is a validated FindOptions, what adapters execute: fetch the
// first Limit documents matching Filter, ordered by Sort, that come
// strictly after the key After (when not nil). Fetch Limit+1 to learn
// whether a next page exists, and build it with NextCursor.
type FindPlan struct {
	Filter Filter      // normalized
	Sort   []SortField // the requested keys, then _id
	Limit  int
	After  []any // nil on the first page; else one canonical scalar per Sort key (the last is the _id)
}

// Plan validates o. Errors wrap ErrInvalid.
func (o FindOptions) Plan() (FindPlan, error) {
	f, err := o.Filter.Normalize()
	if err != nil {
		return FindPlan{}, err
	}
	if o.Limit < 0 || o.Limit > MaxLimit {
		return FindPlan{}, Invalidf("limit %d: want 0 (default %d) to %d", o.Limit, DefaultLimit, MaxLimit)
	}
	if len(o.Sort) > MaxSortKeys {
		return FindPlan{}, Invalidf("more than %d sort keys", MaxSortKeys)
	}
	p := FindPlan{Filter: f, Limit: o.Limit}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	seen := make(map[string]bool, len(o.Sort)+1)
	tieDesc := false
	for _, s := range o.Sort {
		if err := ValidatePath(s.Path); err != nil {
			return FindPlan{}, err
		}
		if seen[s.Path] {
			return FindPlan{}, Invalidf("sort key %q given twice", s.Path)
		}
		seen[s.Path] = true
		p.Sort = append(p.Sort, s)
		tieDesc = s.Desc
	}
	if !seen[IDField] {
		p.Sort = append(p.Sort, SortField{Path: IDField, Desc: tieDesc})
	} else if p.Sort[len(p.Sort)-1].Path != IDField {
		return FindPlan{}, Invalidf("_id may only be the last sort key")
	}
	if o.Cursor != "" {
		if p.After, err = decodeCursor(o.Cursor, p.Sort); err != nil {
			return FindPlan{}, err
		}
	}
	return p, nil
}

// NextCursor returns the cursor that continues after last (the last
// document of a full page). Sort values must be scalars.
func (p FindPlan) NextCursor(last Doc) (string, error) {
	vals := make([]string, len(p.Sort))
	for i, s := range p.Sort {
		v, _ := Lookup(last, s.Path)
		enc, ok := encodeCursorValue(v)
		if !ok {
			return "", Invalidf("sort key %q of document %q holds %T; sort keys must be scalars", s.Path, last.ID(), v)
		}
		vals[i] = enc
	}
	b, err := json.Marshal(cursorBody{Sort: sortSignature(p.Sort), Keys: vals})
	if err != nil {
		return "", Invalidf("cursor: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

type cursorBody struct {
	Sort string   `json:"s"`
	Keys []string `json:"k"`
}

func sortSignature(sort []SortField) string {
	var b strings.Builder
	for i, s := range sort {
		if i > 0 {
			b.WriteByte(',')
		}
		if s.Desc {
			b.WriteByte('-')
		}
		b.WriteString(s.Path)
	}
	return b.String()
}

func decodeCursor(c string, sort []SortField) ([]any, error) {
	if len(c) > maxCursorLen {
		return nil, Invalidf("cursor longer than %d bytes", maxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, Invalidf("cursor is not base64url: %v", err)
	}
	var body cursorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, Invalidf("cursor is malformed: %v", err)
	}
	if body.Sort != sortSignature(sort) || len(body.Keys) != len(sort) {
		return nil, Invalidf("cursor was issued for another sort order")
	}
	out := make([]any, len(body.Keys))
	for i, k := range body.Keys {
		v, ok := decodeCursorValue(k)
		if !ok {
			return nil, Invalidf("cursor key %d is malformed", i)
		}
		out[i] = v
	}
	if _, ok := out[len(out)-1].(string); !ok {
		return nil, Invalidf("cursor has no _id")
	}
	return out, nil
}

// Cursor values are tagged strings: "n" null, "s:" string, "i:" int64,
// "f:" float64 (bits in hex, exact), "b:" bool, "t:" unix milliseconds.
func encodeCursorValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "n", true
	case string:
		return "s:" + x, true
	case int64:
		return "i:" + strconv.FormatInt(x, 10), true
	case float64:
		return "f:" + strconv.FormatUint(math.Float64bits(x), 16), true
	case bool:
		return "b:" + strconv.FormatBool(x), true
	case time.Time:
		return "t:" + strconv.FormatInt(x.UnixMilli(), 10), true
	}
	return "", false
}

func decodeCursorValue(s string) (any, bool) {
	if s == "n" {
		return nil, true
	}
	tag, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, false
	}
	switch tag {
	case "s":
		return rest, true
	case "i":
		i, err := strconv.ParseInt(rest, 10, 64)
		return i, err == nil
	case "f":
		u, err := strconv.ParseUint(rest, 16, 64)
		f := math.Float64frombits(u)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case "b":
		b, err := strconv.ParseBool(rest)
		return b, err == nil
	case "t":
		ms, err := strconv.ParseInt(rest, 10, 64)
		return time.UnixMilli(ms).UTC(), err == nil
	}
	return nil, false
}
