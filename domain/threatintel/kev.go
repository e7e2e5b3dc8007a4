package threatintel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DateLayout is the KEV feed's date format (dateAdded, dueDate).
const DateLayout = "2006-01-02"

// Ransomware is knownRansomwareCampaignUse: a string enum, not a bool.
type Ransomware string

const (
	RansomwareKnown   Ransomware = "Known"
	RansomwareUnknown Ransomware = "Unknown"
)

// KEVEntry is one entry of the catalogue, keyed by its CVE id. Texts are
// kept as the feed writes them (vendorProject and product can carry
// trailing spaces, "SimpleHelp "): Vendor and Product give them trimmed
// for matching.
type KEVEntry struct {
	CVEID             string `json:"cve_id"`
	VendorProject     string `json:"vendor_project"`
	Product           string `json:"product"`
	VulnerabilityName string `json:"vulnerability_name"`
	// DateAdded and DueDate are dates (UTC midnight). DueDate can precede
	// DateAdded (entries added in 2021 with the due dates of older
	// directives).
	DateAdded        time.Time  `json:"date_added"`
	ShortDescription string     `json:"short_description"`
	RequiredAction   string     `json:"required_action"`
	DueDate          time.Time  `json:"due_date"`
	Ransomware       Ransomware `json:"known_ransomware_campaign_use"`
	// Notes: " ; "-separated URLs and remarks, as the feed writes them.
	Notes string   `json:"notes,omitempty"`
	CWEs  []string `json:"cwes,omitempty"`
	// ForensicTriage: "Yes"/"No" (BOD 26-04), newer feeds only.
	ForensicTriage string `json:"forensic_triage,omitempty"`
}

// Vendor is VendorProject trimmed.
func (e KEVEntry) Vendor() string { return strings.TrimSpace(e.VendorProject) }

// ProductName is Product trimmed.
func (e KEVEntry) ProductName() string { return strings.TrimSpace(e.Product) }

// RansomwareKnown reports knownRansomwareCampaignUse "Known".
func (e KEVEntry) RansomwareKnown() bool { return e.Ransomware == RansomwareKnown }

// Entry fields, as a KevEntryUpdated event names them (the feed's names).
const (
	FieldVendorProject     = "vendorProject"
	FieldProduct           = "product"
	FieldVulnerabilityName = "vulnerabilityName"
	FieldDateAdded         = "dateAdded"
	FieldShortDescription  = "shortDescription"
	FieldRequiredAction    = "requiredAction"
	FieldDueDate           = "dueDate"
	FieldRansomware        = "knownRansomwareCampaignUse"
	FieldNotes             = "notes"
	FieldCWEs              = "cwes"
	FieldForensicTriage    = "forensicTriage"
)

// ChangedFields names the fields that differ between two entries of the
// same CVE, in the feed's order. CWEs compare as sets.
func ChangedFields(before, after KEVEntry) []string {
	var out []string
	add := func(changed bool, f string) {
		if changed {
			out = append(out, f)
		}
	}
	add(before.VendorProject != after.VendorProject, FieldVendorProject)
	add(before.Product != after.Product, FieldProduct)
	add(before.VulnerabilityName != after.VulnerabilityName, FieldVulnerabilityName)
	add(!before.DateAdded.Equal(after.DateAdded), FieldDateAdded)
	add(before.ShortDescription != after.ShortDescription, FieldShortDescription)
	add(before.RequiredAction != after.RequiredAction, FieldRequiredAction)
	add(!before.DueDate.Equal(after.DueDate), FieldDueDate)
	add(before.Ransomware != after.Ransomware, FieldRansomware)
	add(before.Notes != after.Notes, FieldNotes)
	add(!slices.Equal(sortedCopy(before.CWEs), sortedCopy(after.CWEs)), FieldCWEs)
	add(before.ForensicTriage != after.ForensicTriage, FieldForensicTriage)
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// Catalogue is one release of the KEV catalogue.
type Catalogue struct {
	Title string `json:"title,omitempty"`
	// Version is catalogVersion: a label, not unique per content (several
	// releases share one). ReleasedAt is dateReleased.
	Version    string    `json:"catalog_version,omitempty"`
	ReleasedAt time.Time `json:"date_released,omitzero"`
	// Count is the feed's count, -1 when the form has none (CSV).
	Count   int        `json:"count"`
	Entries []KEVEntry `json:"entries"`
}

var (
	cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,19}$`)
	cweRE = regexp.MustCompile(`^CWE-[0-9]+$`)
)

// ProblemKind classifies an EntryProblem.
type ProblemKind string

const (
	ProblemMissing   ProblemKind = "missing"   // a required field absent or empty
	ProblemInvalid   ProblemKind = "invalid"   // a value of the wrong form
	ProblemDuplicate ProblemKind = "duplicate" // a CVE id in two entries
	ProblemCount     ProblemKind = "count"     // count is not the number of entries
)

// EntryProblem is one invalid field of one entry (Index -1: the catalogue
// as a whole).
type EntryProblem struct {
	Index int    // 0-based position in the feed
	CVEID string // as written
	Field string // the feed's name
	Kind  ProblemKind
	Issue string
}

// ValidateEntry lists what is wrong with one entry: a CVE id not of the
// form CVE-YYYY-NNNN+, a required field empty (vendorProject, product,
// vulnerabilityName, shortDescription, requiredAction), a zero dateAdded
// or dueDate, a ransomware flag other than Known/Unknown (parsers read an
// absent one as Unknown), a CWE not of the form CWE-N.
func ValidateEntry(e KEVEntry) []EntryProblem {
	var out []EntryProblem
	bad := func(field, issue string) {
		out = append(out, EntryProblem{CVEID: e.CVEID, Field: field, Kind: ProblemInvalid, Issue: issue})
	}
	missing := func(field string) {
		out = append(out, EntryProblem{CVEID: e.CVEID, Field: field, Kind: ProblemMissing, Issue: "required, absent or empty"})
	}
	switch {
	case e.CVEID == "":
		missing("cveID")
	case !cveRE.MatchString(e.CVEID):
		bad("cveID", fmt.Sprintf("%q is not a CVE id (CVE-YYYY-NNNN)", e.CVEID))
	}
	for f, v := range map[string]string{FieldVendorProject: e.VendorProject, FieldProduct: e.Product,
		FieldVulnerabilityName: e.VulnerabilityName, FieldShortDescription: e.ShortDescription, FieldRequiredAction: e.RequiredAction} {
		if strings.TrimSpace(v) == "" {
			missing(f)
		}
	}
	if e.DateAdded.IsZero() {
		missing(FieldDateAdded)
	}
	if e.DueDate.IsZero() {
		missing(FieldDueDate)
	}
	if e.Ransomware != RansomwareKnown && e.Ransomware != RansomwareUnknown {
		bad(FieldRansomware, fmt.Sprintf("%q is neither Known nor Unknown", e.Ransomware))
	}
	for _, c := range e.CWEs {
		if !cweRE.MatchString(c) {
			bad(FieldCWEs, fmt.Sprintf("%q is not a CWE id (CWE-N)", c))
		}
	}
	slices.SortFunc(out, func(a, b EntryProblem) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// Validate checks a whole catalogue: every entry valid, no CVE twice, and
// the count (when the form has one) equal to the number of entries, or,
// when allowPartial, at least that number (excerpts of a real feed keep the
// real count). A catalogue
// that fails is rejected whole: the last accepted one stays in force.
func (c Catalogue) Validate(allowPartial bool) []EntryProblem {
	var out []EntryProblem
	if c.Count >= 0 && c.Count != len(c.Entries) && (!allowPartial || c.Count < len(c.Entries)) {
		out = append(out, EntryProblem{Index: -1, Field: "count", Kind: ProblemCount, Issue: fmt.Sprintf("the feed says %d entries and holds %d (truncated or inconsistent)", c.Count, len(c.Entries))})
	}
	seen := make(map[string]int, len(c.Entries))
	for i, e := range c.Entries {
		for _, p := range ValidateEntry(e) {
			p.Index = i
			out = append(out, p)
		}
		if j, dup := seen[e.CVEID]; dup && e.CVEID != "" {
			out = append(out, EntryProblem{Index: i, CVEID: e.CVEID, Field: "cveID", Kind: ProblemDuplicate, Issue: fmt.Sprintf("also entry %d", j)})
		}
		seen[e.CVEID] = i
	}
	return out
}

// Sorted returns the catalogue's entries sorted by CVE id.
func (c Catalogue) Sorted() []KEVEntry {
	es := slices.Clone(c.Entries)
	slices.SortFunc(es, func(a, b KEVEntry) int { return strings.Compare(a.CVEID, b.CVEID) })
	return es
}

// ContentHash is a sha256 over the entries (sorted by CVE id, every
// field), ignoring the title, version, release date and count: two
// releases with the same hash say the same thing, whatever their labels.
func (c Catalogue) ContentHash() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, e := range c.Sorted() {
		e.CWEs = sortedCopy(e.CWEs)
		if err := enc.Encode(e); err != nil {
			panic(err) // a KEVEntry always encodes
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// EntryUpdate is an entry whose content changed: its new content, and the
// fields that changed.
type EntryUpdate struct {
	Entry   KEVEntry `json:"entry"`
	Changed []string `json:"changed"`
	// RansomwareConfirmed: knownRansomwareCampaignUse went Unknown -> Known.
	RansomwareConfirmed bool `json:"ransomware_confirmed,omitempty"`
}

// Diff is what a newer catalogue changes against the last accepted one,
// each set sorted by CVE id.
type Diff struct {
	Published []KEVEntry    `json:"published"`
	Updated   []EntryUpdate `json:"updated"`
	Withdrawn []KEVEntry    `json:"withdrawn"` // as last accepted
	Unchanged int           `json:"unchanged"`
}

// Empty reports a diff that changes nothing.
func (d Diff) Empty() bool {
	return len(d.Published) == 0 && len(d.Updated) == 0 && len(d.Withdrawn) == 0
}

// DiffCatalogues compares two catalogues by content, entry by entry (keyed
// by CVE id), never by their version labels: an entry only in next is
// published, only in last withdrawn, in both with different content
// updated. last is the zero Catalogue for the first import (everything is
// published). Both are valid catalogues (no CVE twice).
func DiffCatalogues(last, next Catalogue) Diff {
	before := make(map[string]KEVEntry, len(last.Entries))
	for _, e := range last.Entries {
		before[e.CVEID] = e
	}
	var d Diff
	inNext := make(map[string]bool, len(next.Entries))
	for _, e := range next.Sorted() {
		inNext[e.CVEID] = true
		old, ok := before[e.CVEID]
		if !ok {
			d.Published = append(d.Published, e)
			continue
		}
		changed := ChangedFields(old, e)
		if len(changed) == 0 {
			d.Unchanged++
			continue
		}
		d.Updated = append(d.Updated, EntryUpdate{Entry: e, Changed: changed,
			RansomwareConfirmed: old.Ransomware != RansomwareKnown && e.Ransomware == RansomwareKnown})
	}
	for _, e := range last.Sorted() {
		if !inNext[e.CVEID] {
			d.Withdrawn = append(d.Withdrawn, e)
		}
	}
	return d
}
