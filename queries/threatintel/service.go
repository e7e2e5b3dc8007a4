// Package threatintel holds the threat-intelligence queries: the KEV
// catalogue (public: every team reads the same) and the teams' indicators
// (private), over cspm_threat_intelligence.
package threatintel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Service runs the threat-intelligence queries.
type Service struct{ ti queries.DocReader }

// New returns the queries over the threat-intelligence database; it
// panics on a nil store (a wiring mistake).
func New(store queries.DocReader) *Service {
	if store == nil {
		panic("threatintel.New: a store is missing")
	}
	return &Service{ti: store}
}

// The read models projections/threatintel writes.
const (
	kevEntriesCollection = "kev_entries"
	kevHistoryCollection = "kev_history"
	indicatorsCollection = "indicators"
)

// KEVEntry is one CISA KEV entry.
type KEVEntry struct {
	CVEID             string    `json:"cve_id"`
	VendorProject     string    `json:"vendor_project"`
	Product           string    `json:"product"`
	VulnerabilityName string    `json:"vulnerability_name"`
	DateAdded         time.Time `json:"date_added"`
	ShortDescription  string    `json:"short_description"`
	RequiredAction    string    `json:"required_action"`
	DueDate           time.Time `json:"due_date"`
	Ransomware        bool      `json:"known_ransomware_campaign_use"`
	Notes             string    `json:"notes,omitempty"`
	CWEs              []string  `json:"cwes,omitempty"`
	// Status is listed or withdrawn; ListedSince when this system first
	// accepted it, WithdrawnAt when a feed withdrew it.
	Status           string    `json:"status"`
	ListedSince      time.Time `json:"listed_since,omitzero"`
	WithdrawnAt      time.Time `json:"withdrawn_at,omitzero"`
	CatalogueVersion string    `json:"catalogue_version,omitempty"`
}

// KEVVersion is one version of an entry, valid from ValidFrom until
// ValidTo (absent: in force).
type KEVVersion struct {
	Kind      string    `json:"kind"` // published, updated, withdrawn
	Changed   []string  `json:"changed,omitempty"`
	ValidFrom time.Time `json:"valid_from"`
	ValidTo   time.Time `json:"valid_to,omitzero"`
	Entry     KEVEntry  `json:"entry"`
}

// KEVDetail is an entry with its history; with AsOf, IsKEV says whether
// it was in the catalogue at that time.
type KEVDetail struct {
	KEVEntry
	AsOf    time.Time    `json:"as_of,omitzero"`
	IsKEV   *bool        `json:"kev_at_as_of,omitempty"`
	History []KEVVersion `json:"history"`
}

// KEVList is one page of entries, most recently added first.
type KEVList struct {
	Items      []KEVEntry `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// KEVFilter narrows ListKEV.
type KEVFilter struct {
	Ransomware *bool
	Vendor     string    // vendorProject, any case
	Since      time.Time // dateAdded on or after
	Withdrawn  bool      // list withdrawn entries instead of listed ones
}

func strs(d readmodel.Doc, key string) []string {
	l, _ := d[key].([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func kevOf(d readmodel.Doc) KEVEntry {
	r, _ := d["ransomware"].(bool)
	return KEVEntry{CVEID: queries.Str(d, "cve_id"), VendorProject: queries.Str(d, "vendor_project"), Product: queries.Str(d, "product"),
		VulnerabilityName: queries.Str(d, "vulnerability_name"), DateAdded: queries.When(d, "date_added"),
		ShortDescription: queries.Str(d, "short_description"), RequiredAction: queries.Str(d, "required_action"),
		DueDate: queries.When(d, "due_date"), Ransomware: r, Notes: queries.Str(d, "notes"), CWEs: strs(d, "cwes"),
		Status: queries.Str(d, "status"), ListedSince: queries.When(d, "listed_since"), WithdrawnAt: queries.When(d, "withdrawn_at"),
		CatalogueVersion: queries.Str(d, "catalogue_version")}
}

// ListKEV returns one page of KEV entries (any team reads the same).
func (s *Service) ListKEV(ctx context.Context, f KEVFilter, p queries.Page) (KEVList, error) {
	var v domain.Validator
	p.Check(&v)
	vendor := strings.ToLower(strings.TrimSpace(f.Vendor))
	queries.CheckText(&v, "vendor", vendor)
	if err := v.Err(); err != nil {
		return KEVList{}, err
	}
	status := "listed"
	if f.Withdrawn {
		status = "withdrawn"
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("status", status)}, "vendor_key", vendor)
	if f.Ransomware != nil {
		terms = append(terms, readmodel.Eq("ransomware", *f.Ransomware))
	}
	if !f.Since.IsZero() {
		terms = append(terms, readmodel.Gte("date_added", readmodel.NormalizeTime(f.Since)))
	}
	page, err := queries.Find(ctx, s.ti, kevEntriesCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Desc("date_added")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return KEVList{}, fmt.Errorf("list kev: %w", err)
	}
	out := KEVList{Items: make([]KEVEntry, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = kevOf(d)
	}
	return out, nil
}

// MaxKEVHistory bounds the versions GetKEV returns (an entry changes a
// few times in its life).
const MaxKEVHistory = 200

// GetKEV returns the entry of cve with its history, newest first; with a
// non-zero asOf, whether it was KEV then (the latest version with
// valid_from <= asOf, one indexed read). queries.ErrNotFound when the CVE
// was never listed.
func (s *Service) GetKEV(ctx context.Context, cve string, asOf time.Time) (KEVDetail, error) {
	cve = strings.ToUpper(strings.TrimSpace(cve))
	d, err := s.ti.Get(ctx, kevEntriesCollection, cve)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return KEVDetail{}, queries.NotFound("KEV entry", cve)
	case err != nil:
		return KEVDetail{}, fmt.Errorf("get kev %q: %w", cve, err)
	}
	out := KEVDetail{KEVEntry: kevOf(d), History: []KEVVersion{}}
	page, err := queries.Find(ctx, s.ti, kevHistoryCollection, readmodel.FindOptions{
		Filter: readmodel.Eq("cve_id", cve), Sort: []readmodel.SortField{readmodel.Desc("valid_from")}, Limit: MaxKEVHistory})
	if err != nil {
		return KEVDetail{}, fmt.Errorf("kev history %q: %w", cve, err)
	}
	for _, h := range page.Docs {
		out.History = append(out.History, KEVVersion{Kind: queries.Str(h, "kind"), Changed: strs(h, "changed"),
			ValidFrom: queries.When(h, "valid_from"), ValidTo: queries.When(h, "valid_to"), Entry: kevOf(h)})
	}
	if !asOf.IsZero() {
		at := readmodel.NormalizeTime(asOf)
		out.AsOf = at
		was := false
		hp, err := queries.Find(ctx, s.ti, kevHistoryCollection, readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("cve_id", cve), readmodel.Lte("valid_from", at)),
			Sort:   []readmodel.SortField{readmodel.Desc("valid_from")}, Limit: 1})
		if err != nil {
			return KEVDetail{}, fmt.Errorf("kev %q as of %v: %w", cve, at, err)
		}
		if len(hp.Docs) == 1 {
			was = queries.Str(hp.Docs[0], "kind") != "withdrawn"
		}
		out.IsKEV = &was
	}
	return out, nil
}
