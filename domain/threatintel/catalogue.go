package threatintel

import (
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// The accepted KEV catalogue is one global aggregate (the stream
// "kev-catalogue"): public data, not any team's. Each accepted import is
// diffed by content against the last accepted catalogue and appends one
// event per entry published, updated or withdrawn, then
// KEVCatalogueAccepted (the version, the content hash and the counts).
// Per-entry events let a projection over occurrences flag (or unflag)
// every open occurrence of one CVE in the pass that reads the event.
// A feed whose content equals the accepted one appends nothing.

// Event is an event of the threat-intelligence module.
type Event interface{ EventType() string }

// KEVEntryPublished: the entry is in the catalogue from PublishedAt (the
// time the import was accepted; Entry.DateAdded is CISA's own date).
type KEVEntryPublished struct {
	ImportID         string    `json:"import_id"`
	CatalogueVersion string    `json:"catalogue_version,omitempty"`
	Entry            KEVEntry  `json:"entry"`
	PublishedAt      time.Time `json:"published_at"`
}

// KEVEntryUpdated: the entry changed (Changed names the feed's fields)
// from UpdatedAt; Entry is the entry as it is now.
type KEVEntryUpdated struct {
	ImportID            string    `json:"import_id"`
	CatalogueVersion    string    `json:"catalogue_version,omitempty"`
	Entry               KEVEntry  `json:"entry"`
	Changed             []string  `json:"changed"`
	RansomwareConfirmed bool      `json:"ransomware_confirmed,omitempty"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// KEVEntryWithdrawn: the entry left the catalogue at WithdrawnAt; Entry is
// the entry as last accepted.
type KEVEntryWithdrawn struct {
	ImportID         string    `json:"import_id"`
	CatalogueVersion string    `json:"catalogue_version,omitempty"`
	CVEID            string    `json:"cve_id"`
	Entry            KEVEntry  `json:"entry"`
	WithdrawnAt      time.Time `json:"withdrawn_at"`
}

// KEVCatalogueAccepted closes an accepted import: the catalogue in force
// from AcceptedAt has this content hash.
type KEVCatalogueAccepted struct {
	ImportID         string    `json:"import_id"`
	Format           string    `json:"format"`
	FileHash         string    `json:"file_hash"`
	Size             int64     `json:"size"`
	FileName         string    `json:"file_name,omitempty"`
	CatalogueVersion string    `json:"catalogue_version,omitempty"`
	ReleasedAt       time.Time `json:"released_at,omitzero"`
	ContentHash      string    `json:"content_hash"`
	Entries          int       `json:"entries"`
	Published        int       `json:"published"`
	Updated          int       `json:"updated"`
	Withdrawn        int       `json:"withdrawn"`
	Unchanged        int       `json:"unchanged"`
	Forced           bool      `json:"forced,omitempty"`
	AcceptedAt       time.Time `json:"accepted_at"`
}

// KEVImportRejected: a feed refused whole (it does not parse, is
// truncated, or breaks the feed's rules); recorded on the import's own
// stream ("kevimport-<id>"), the catalogue in force unchanged.
type KEVImportRejected struct {
	ImportID   string    `json:"import_id"`
	Format     string    `json:"format"`
	FileHash   string    `json:"file_hash"`
	Size       int64     `json:"size"`
	FileName   string    `json:"file_name,omitempty"`
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
}

func (KEVEntryPublished) EventType() string    { return "KEVEntryPublished" }
func (KEVEntryUpdated) EventType() string      { return "KEVEntryUpdated" }
func (KEVEntryWithdrawn) EventType() string    { return "KEVEntryWithdrawn" }
func (KEVCatalogueAccepted) EventType() string { return "KEVCatalogueAccepted" }
func (KEVImportRejected) EventType() string    { return "KEVImportRejected" }

// CodeKEVMassWithdrawal: a feed would withdraw more entries than the
// guard allows, and the import was not forced.
const CodeKEVMassWithdrawal = "KEV_MASS_WITHDRAWAL"

// CodeKEVFeedInvalid: a catalogue that breaks the feed's rules reached
// Accept (the parser rejects such feeds first).
const CodeKEVFeedInvalid = "KEV_FEED_INVALID"

// The mass-withdrawal guard: a feed may withdraw at most
// max(MassWithdrawalFloor, MassWithdrawalPercent% of the accepted entries)
// unless the import is forced. CISA withdraws a handful of entries a year;
// an empty, tiny or cut-down feed withdrawing most of the catalogue is a
// broken download, not news.
const (
	MassWithdrawalFloor   = 10
	MassWithdrawalPercent = 2
)

// MaxWithdrawals is what the guard lets a feed withdraw from a catalogue
// of accepted entries.
func MaxWithdrawals(accepted int) int {
	return max(MassWithdrawalFloor, accepted*MassWithdrawalPercent/100)
}

// KEVImport is what an import says of the feed beside its content.
type KEVImport struct {
	ImportID string
	Format   string
	FileHash string
	Size     int64
	FileName string
	Force    bool // lift the mass-withdrawal guard
}

// KEVCatalogue is the accepted catalogue's state. Build it with
// RehydrateKEVCatalogue.
type KEVCatalogue struct {
	contentHash string
	version     string
	entries     map[string]KEVEntry
	lastAt      time.Time
}

// RehydrateKEVCatalogue folds the catalogue stream's events.
func RehydrateKEVCatalogue(events ...Event) *KEVCatalogue {
	c := &KEVCatalogue{entries: map[string]KEVEntry{}}
	for _, e := range events {
		c.apply(e)
	}
	return c
}

func (c *KEVCatalogue) apply(e Event) {
	switch e := e.(type) {
	case KEVEntryPublished:
		c.entries[e.Entry.CVEID] = e.Entry
	case KEVEntryUpdated:
		c.entries[e.Entry.CVEID] = e.Entry
	case KEVEntryWithdrawn:
		delete(c.entries, e.CVEID)
	case KEVCatalogueAccepted:
		c.contentHash, c.version, c.lastAt = e.ContentHash, e.CatalogueVersion, e.AcceptedAt
	}
}

// ContentHash is the accepted catalogue's content hash ("" before any).
func (c *KEVCatalogue) ContentHash() string { return c.contentHash }

// Version is the accepted catalogue's version label.
func (c *KEVCatalogue) Version() string { return c.version }

// Len is the number of entries in force.
func (c *KEVCatalogue) Len() int { return len(c.entries) }

// Entry is the entry in force for a CVE.
func (c *KEVCatalogue) Entry(cve string) (KEVEntry, bool) {
	e, ok := c.entries[cve]
	return e, ok
}

// Catalogue is the accepted catalogue (entries sorted by CVE).
func (c *KEVCatalogue) Catalogue() Catalogue {
	out := Catalogue{Version: c.version, Count: len(c.entries)}
	for _, e := range c.entries {
		out.Entries = append(out.Entries, e)
	}
	out.Entries = out.Sorted()
	return out
}

// Accept decides an import of a validated catalogue at at: nothing when
// its content is the accepted content (idempotent, whatever its version
// label or form), else its diff against the accepted catalogue as events,
// KEVCatalogueAccepted last. A feed withdrawing more than MaxWithdrawals
// is refused (CodeKEVMassWithdrawal) unless imp.Force.
func (c *KEVCatalogue) Accept(next Catalogue, imp KEVImport, at time.Time) ([]Event, Diff, error) {
	if imp.ImportID == "" || at.IsZero() {
		return nil, Diff{}, fmt.Errorf("threatintel: an import needs its id and time")
	}
	if problems := next.Validate(false); len(problems) > 0 {
		p := problems[0]
		return nil, Diff{}, domain.Rule(CodeKEVFeedInvalid, "the feed breaks its rules: entry %d %s %s: %s", p.Index, p.CVEID, p.Field, p.Issue)
	}
	hash := next.ContentHash()
	if hash == c.contentHash {
		return nil, Diff{}, nil
	}
	d := DiffCatalogues(c.Catalogue(), next)
	if n := len(d.Withdrawn); n > MaxWithdrawals(len(c.entries)) && !imp.Force {
		return nil, d, domain.Rule(CodeKEVMassWithdrawal,
			"the feed would withdraw %d of the %d entries in force (at most %d without force): refused, the catalogue in force stays; import it with force=true if CISA really withdrew them",
			n, len(c.entries), MaxWithdrawals(len(c.entries)))
	}
	v := next.Version
	var out []Event
	for _, e := range d.Published {
		out = append(out, KEVEntryPublished{ImportID: imp.ImportID, CatalogueVersion: v, Entry: e, PublishedAt: at})
	}
	for _, u := range d.Updated {
		out = append(out, KEVEntryUpdated{ImportID: imp.ImportID, CatalogueVersion: v, Entry: u.Entry, Changed: u.Changed,
			RansomwareConfirmed: u.RansomwareConfirmed, UpdatedAt: at})
	}
	for _, e := range d.Withdrawn {
		out = append(out, KEVEntryWithdrawn{ImportID: imp.ImportID, CatalogueVersion: v, CVEID: e.CVEID, Entry: e, WithdrawnAt: at})
	}
	out = append(out, KEVCatalogueAccepted{ImportID: imp.ImportID, Format: imp.Format, FileHash: imp.FileHash, Size: imp.Size,
		FileName: imp.FileName, CatalogueVersion: v, ReleasedAt: next.ReleasedAt, ContentHash: hash, Entries: len(next.Entries),
		Published: len(d.Published), Updated: len(d.Updated), Withdrawn: len(d.Withdrawn), Unchanged: d.Unchanged,
		Forced: imp.Force && len(d.Withdrawn) > MaxWithdrawals(len(c.entries)), AcceptedAt: at})
	return out, d, nil
}
