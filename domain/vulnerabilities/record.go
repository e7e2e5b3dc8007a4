package vulnerabilities

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// CVSS is one source's CVSS scoring of a vulnerability (Trivy CVSS.<source>):
// vectors and base scores for v2, v3.x and v4.0, each when given.
type CVSS struct {
	V2Vector string  `json:"v2_vector,omitempty"`
	V2Score  float64 `json:"v2_score,omitempty"`
	V3Vector string  `json:"v3_vector,omitempty"`
	V3Score  float64 `json:"v3_score,omitempty"`
	V4Vector string  `json:"v4_vector,omitempty"`
	V4Score  float64 `json:"v4_score,omitempty"`
}

// Record is what a report says about one vulnerability, whatever it
// affects: the catalog entry. Its id is a CVE, a GHSA, or a distribution's
// own id (TEMP-0841856-B18BAF, DSA-4535-1...).
type Record struct {
	ID          string   `json:"id"`
	Aliases     []string `json:"aliases,omitempty"` // Trivy VendorIDs, sorted
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	CWEs        []string `json:"cwes,omitempty"`       // sorted, upper case
	References  []string `json:"references,omitempty"` // in the report's order, no repeats
	PrimaryURL  string   `json:"primary_url,omitempty"`
	// CVSS by source (nvd, ghsa, redhat, ...).
	CVSS map[string]CVSS `json:"cvss,omitempty"`
	// VendorSeverities by source.
	VendorSeverities map[string]Severity `json:"vendor_severities,omitempty"`
	// Severity is the scanner's verdict and SeveritySource the source it
	// took it from ("" when the report does not say).
	Severity       Severity  `json:"severity"`
	SeveritySource string    `json:"severity_source,omitempty"`
	PublishedAt    time.Time `json:"published_at,omitzero"`
	LastModifiedAt time.Time `json:"last_modified_at,omitzero"`
}

// NormalizeID upper-cases the scheme of well-known ids ("cve-2021-44228" ->
// "CVE-2021-44228", "ghsa-..." -> "GHSA-..." keeping the GHSA's own case
// of its body, which is lower in GitHub's database) and trims space; other
// ids are kept as they are.
func NormalizeID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) > 4 && strings.EqualFold(id[:4], "cve-") {
		return strings.ToUpper(id)
	}
	if len(id) > 5 && strings.EqualFold(id[:5], "ghsa-") {
		return "GHSA-" + strings.ToLower(id[5:])
	}
	return id
}

// IsCVE reports a CVE id (after NormalizeID).
func IsCVE(id string) bool { return strings.HasPrefix(id, "CVE-") }

// Normalize puts a record in its canonical form, so that two reports
// saying the same thing give equal records: ids normalised, CWEs upper
// case and sorted, aliases sorted, references without repeats.
func (r *Record) Normalize() {
	r.ID = NormalizeID(r.ID)
	aliases := make([]string, 0, len(r.Aliases))
	for _, a := range r.Aliases {
		if a = NormalizeID(a); a != "" && a != r.ID {
			aliases = append(aliases, a)
		}
	}
	r.Aliases = sortedUnique(aliases)
	cwes := make([]string, 0, len(r.CWEs))
	for _, c := range r.CWEs {
		cwes = append(cwes, strings.ToUpper(strings.TrimSpace(c)))
	}
	r.CWEs = sortedUnique(cwes)
	seen := make(map[string]bool, len(r.References))
	refs := r.References[:0:0]
	for _, u := range r.References {
		if u = strings.TrimSpace(u); u != "" && !seen[u] {
			seen[u] = true
			refs = append(refs, u)
		}
	}
	r.References = nilIfEmpty(refs)
	if len(r.CVSS) == 0 {
		r.CVSS = nil
	}
	if len(r.VendorSeverities) == 0 {
		r.VendorSeverities = nil
	}
	r.PublishedAt = r.PublishedAt.UTC()
	r.LastModifiedAt = r.LastModifiedAt.UTC()
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Catalog fields, as a VulnerabilityUpdated event names them.
const (
	FieldAliases          = "aliases"
	FieldTitle            = "title"
	FieldDescription      = "description"
	FieldCWEs             = "cwes"
	FieldReferences       = "references"
	FieldPrimaryURL       = "primary_url"
	FieldCVSS             = "cvss"
	FieldVendorSeverities = "vendor_severities"
	FieldSeverity         = "severity"
	FieldSeveritySource   = "severity_source"
	FieldPublishedAt      = "published_at"
	FieldLastModifiedAt   = "last_modified_at"
)

// ChangedFields lists the fields whose values differ between two records
// of the same vulnerability (both normalised), in the order of the
// constants above. References compare as sets (order is the database's,
// not a change).
func ChangedFields(stored, newer Record) []string {
	var out []string
	add := func(changed bool, f string) {
		if changed {
			out = append(out, f)
		}
	}
	add(!slices.Equal(stored.Aliases, newer.Aliases), FieldAliases)
	add(stored.Title != newer.Title, FieldTitle)
	add(stored.Description != newer.Description, FieldDescription)
	add(!slices.Equal(stored.CWEs, newer.CWEs), FieldCWEs)
	add(!sameSet(stored.References, newer.References), FieldReferences)
	add(stored.PrimaryURL != newer.PrimaryURL, FieldPrimaryURL)
	add(!maps.Equal(stored.CVSS, newer.CVSS), FieldCVSS)
	add(!maps.Equal(stored.VendorSeverities, newer.VendorSeverities), FieldVendorSeverities)
	add(stored.Severity != newer.Severity, FieldSeverity)
	add(stored.SeveritySource != newer.SeveritySource, FieldSeveritySource)
	add(!stored.PublishedAt.Equal(newer.PublishedAt), FieldPublishedAt)
	add(!stored.LastModifiedAt.Equal(newer.LastModifiedAt), FieldLastModifiedAt)
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// MergeOutcome is what the catalog-merge rule decides for a record a
// report brings about a vulnerability already in the catalog.
type MergeOutcome struct {
	// Apply: Record replaces the stored record (VulnerabilityUpdated
	// naming Changed).
	Apply   bool
	Record  Record
	Changed []string
	// Reason says why nothing is applied: "unchanged" (nothing new),
	// "older" (the report brings a record last modified before the stored
	// one, or undated against a dated one); "" when Apply.
	Reason string
}

// Merge is the catalog-merge rule (decision 47). stored and incoming are
// records of the same id, normalised.
//   - The incoming record's LastModifiedAt is before the stored one's, or
//     it has none and the stored one has: it is older data (an old report
//     imported late, a scanner with an older database); nothing ("older").
//   - It is later, or the stored one is undated: the incoming record is
//     the newer word and replaces the stored one whole: a field a newer
//     database dropped is dropped, so the entry is one database version's
//     record, never a mix of two.
//   - Same date (or both undated): both come from the same database state
//     and differ only by what each scanner version writes (one writes
//     VendorSeverity or CVSS v4, another does not): the incoming record
//     only fills what the stored one lacks (empty texts and lists, missing
//     sources of CVSS and vendor severities); the stored values win. Two
//     scanner versions importing in turn therefore settle at once instead
//     of updating the entry back and forth.
//
// Changed names the fields that differ between the stored record and the
// one to store; when none do, nothing is applied ("unchanged").
func Merge(stored, incoming Record) MergeOutcome {
	var next Record
	switch {
	case !stored.LastModifiedAt.IsZero() && (incoming.LastModifiedAt.IsZero() || incoming.LastModifiedAt.Before(stored.LastModifiedAt)):
		if len(ChangedFields(stored, incoming)) == 0 {
			return MergeOutcome{Reason: "unchanged"}
		}
		return MergeOutcome{Reason: "older"}
	case incoming.LastModifiedAt.After(stored.LastModifiedAt):
		next = incoming
	default: // same date, or both undated
		next = fill(stored, incoming)
	}
	changed := ChangedFields(stored, next)
	if len(changed) == 0 {
		return MergeOutcome{Reason: "unchanged"}
	}
	return MergeOutcome{Apply: true, Record: next, Changed: changed}
}

// fill returns stored with what it lacks taken from other.
func fill(stored, other Record) Record {
	out := stored
	out.Aliases = sortedUnique(append(slices.Clone(stored.Aliases), other.Aliases...))
	if out.Title == "" {
		out.Title = other.Title
	}
	if out.Description == "" {
		out.Description = other.Description
	}
	if len(out.CWEs) == 0 {
		out.CWEs = other.CWEs
	}
	if len(out.References) == 0 {
		out.References = other.References
	}
	if out.PrimaryURL == "" {
		out.PrimaryURL = other.PrimaryURL
	}
	out.CVSS = union(stored.CVSS, other.CVSS)
	out.VendorSeverities = union(stored.VendorSeverities, other.VendorSeverities)
	if out.Severity == "" {
		out.Severity = other.Severity
	}
	if out.SeveritySource == "" {
		out.SeveritySource = other.SeveritySource
	}
	if out.PublishedAt.IsZero() {
		out.PublishedAt = other.PublishedAt
	}
	return out
}

// union is a with the keys only b has; nil when both are empty.
func union[V any](a, b map[string]V) map[string]V {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(map[string]V, len(a)+len(b))
	maps.Copy(out, b)
	maps.Copy(out, a)
	return out
}
