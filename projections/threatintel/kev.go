// Package threatintel holds the threat-intelligence projections: the KEV
// catalogue with its history (threatintel.kev) and the teams' indicators
// (threatintel.indicators), in cspm_threat_intelligence.
package threatintel

import (
	"context"
	"fmt"
	"strings"
	"time"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the KEV projection and its collections.
const (
	KEVName              = "threatintel.kev"
	KEVEntriesCollection = "kev_entries"   // one per CVE ever listed: the entry in force, or the last before its withdrawal
	KEVHistoryCollection = "kev_history"   // one per published / updated / withdrawn: valid_from, valid_to
	KEVCatalogCollection = "kev_catalogue" // one document ("current"): the catalogue in force
	KEVCatalogDocID      = "current"
)

// KEV entry statuses.
const (
	KEVListed    = "listed"
	KEVWithdrawn = "withdrawn"
)

// KEV keeps kev_entries (what GET /api/v1/kev lists: the entry in force
// per CVE), kev_history (each version of an entry with its validity,
// valid_to null while in force; a withdrawal is a version of kind
// "withdrawn", so "was it KEV at T" is the latest version of the CVE with
// valid_from <= T: one read of the by_cve_valid_from index) and
// kev_catalogue (the version and content hash in force). KEV is public
// data: no document carries a team.
//
// The catalogue is one stream, so events arrive in stream order; a
// redelivered event (position at or below the entry's updated_position)
// changes nothing.
type KEV struct{}

var _ projections.Projection = KEV{}

// NewKEV returns the "threatintel.kev" projection.
func NewKEV() KEV { return KEV{} }

// Name implements projections.Projection.
func (KEV) Name() string { return KEVName }

// Database implements projections.Projection.
func (KEV) Database() dbregistry.Constant { return dbregistry.THREAT_INTELLIGENCE }

// EventTypes implements projections.Projection.
func (KEV) EventTypes() []string {
	return []string{ti.KEVEntryPublished{}.EventType(), ti.KEVEntryUpdated{}.EventType(),
		ti.KEVEntryWithdrawn{}.EventType(), ti.KEVCatalogueAccepted{}.EventType()}
}

// Collections implements projections.Projection, with the indexes of the
// KEV queries.
func (KEV) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: KEVEntriesCollection, Indexes: []readmodel.Index{
			// GET /api/v1/kev: newest first; ?since= is a range on date_added.
			{Name: "by_status_added", Fields: []readmodel.IndexField{{Path: "status"}, {Path: "date_added", Desc: true}}},
			// ?vendor=
			{Name: "by_status_vendor_added", Fields: []readmodel.IndexField{{Path: "status"}, {Path: "vendor_key"}, {Path: "date_added", Desc: true}}},
			// ?ransomware=true
			{Name: "by_status_ransomware_added", Fields: []readmodel.IndexField{{Path: "status"}, {Path: "ransomware"}, {Path: "date_added", Desc: true}}},
		}},
		{Name: KEVHistoryCollection, Indexes: []readmodel.Index{
			// GET /api/v1/kev/{cve}?as_of=T: the latest version with valid_from <= T.
			{Name: "by_cve_valid_from", Fields: []readmodel.IndexField{{Path: "cve_id"}, {Path: "valid_from", Desc: true}}},
		}},
		{Name: KEVCatalogCollection},
	}
}

// KEVHistoryDocID is the id of the version of cve appended at position.
func KEVHistoryDocID(cve string, position int64) string {
	return fmt.Sprintf("%s/%020d", cve, position)
}

// Apply implements projections.Projection.
func (KEV) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	var (
		entry   ti.KEVEntry
		kind    string
		at      time.Time
		changed []string
		version string
	)
	switch e := fold.Value(ev.Data).(type) {
	case ti.KEVEntryPublished:
		entry, kind, at, version = e.Entry, "published", e.PublishedAt, e.CatalogueVersion
	case ti.KEVEntryUpdated:
		entry, kind, at, changed, version = e.Entry, "updated", e.UpdatedAt, e.Changed, e.CatalogueVersion
	case ti.KEVEntryWithdrawn:
		entry, kind, at, version = e.Entry, "withdrawn", e.WithdrawnAt, e.CatalogueVersion
	case ti.KEVCatalogueAccepted:
		d, _, err := fold.Get(ctx, tx, KEVCatalogCollection, KEVCatalogDocID)
		if err != nil {
			return fmt.Errorf("%s: %w", KEVName, err)
		}
		if fold.Num(d, "updated_position") >= ev.Position {
			return nil
		}
		tx.Put(KEVCatalogCollection, readmodel.Doc{"_id": KEVCatalogDocID, "catalogue_version": e.CatalogueVersion,
			"content_hash": e.ContentHash, "entries": int64(e.Entries), "released_at": fold.TimeOrNil(e.ReleasedAt),
			"accepted_at": e.AcceptedAt, "import_id": e.ImportID, "published": int64(e.Published), "updated": int64(e.Updated),
			"withdrawn": int64(e.Withdrawn), "forced": e.Forced, "updated_position": ev.Position})
		return nil
	default:
		return nil
	}
	cur, found, err := fold.Get(ctx, tx, KEVEntriesCollection, entry.CVEID)
	if err != nil {
		return fmt.Errorf("%s: %w", KEVName, err)
	}
	if found && fold.Num(cur, "updated_position") >= ev.Position {
		return nil // redelivered
	}
	// Close the version in force.
	if prev := fold.Str(cur, "history_id"); prev != "" {
		h, ok, err := fold.Get(ctx, tx, KEVHistoryCollection, prev)
		if err != nil {
			return fmt.Errorf("%s: %w", KEVName, err)
		}
		if ok {
			h["valid_to"] = at
			tx.Put(KEVHistoryCollection, h)
		}
	}
	hid := KEVHistoryDocID(entry.CVEID, ev.Position)
	h := entryFields(entry)
	h["_id"], h["kind"], h["valid_from"], h["valid_to"], h["position"] = hid, kind, at, nil, ev.Position
	h["catalogue_version"], h["changed"] = version, anys(changed)
	tx.Put(KEVHistoryCollection, h)

	d := entryFields(entry)
	d["_id"], d["history_id"], d["updated_position"], d["catalogue_version"] = entry.CVEID, hid, ev.Position, version
	d["status"], d["listed_since"], d["withdrawn_at"], d["updated_at"] = KEVListed, fold.Time(cur, "listed_since"), nil, at
	d["changed"] = anys(changed)
	switch kind {
	case "published":
		d["listed_since"] = at
	case "withdrawn":
		d["status"], d["withdrawn_at"] = KEVWithdrawn, at
	}
	if fold.Time(d, "listed_since").IsZero() {
		d["listed_since"] = at
	}
	tx.Put(KEVEntriesCollection, d)
	return nil
}

func entryFields(e ti.KEVEntry) readmodel.Doc {
	return readmodel.Doc{
		"cve_id": e.CVEID, "vendor_project": e.VendorProject, "vendor_key": strings.ToLower(e.Vendor()),
		"product": e.Product, "vulnerability_name": e.VulnerabilityName, "date_added": e.DateAdded,
		"short_description": e.ShortDescription, "required_action": e.RequiredAction, "due_date": e.DueDate,
		"ransomware": e.RansomwareKnown(), "known_ransomware_campaign_use": string(e.Ransomware),
		"notes": e.Notes, "cwes": anys(e.CWEs), "forensic_triage": e.ForensicTriage,
	}
}

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
