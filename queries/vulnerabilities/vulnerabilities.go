// Package vulnerabilities holds the vulnerabilities module's queries over
// cspm_vulnerabilities (projections/vulnerabilities): a team's images with
// their open occurrences, a team's occurrences, and catalog entries with
// where they occur for the caller's team. The catalog is public data;
// occurrences, artifacts and images are team-private.
package vulnerabilities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Collections, as projections/vulnerabilities writes them.
const (
	catalogCollection     = "vulnerability_catalog"
	occurrencesCollection = "occurrences"
	artifactsCollection   = "artifacts"
	digestsCollection     = "artifact_digests"
)

// MaxOccurrencesShown bounds the occurrences an image or a catalog entry
// lists (the list route pages through all of them).
const MaxOccurrencesShown = 200

// Service runs the queries; safe for concurrent use.
type Service struct{ db queries.DocReader }

// New returns the queries over cspm_vulnerabilities; it panics on a nil
// store (a wiring mistake).
func New(db queries.DocReader) *Service {
	if db == nil {
		panic("vulnerabilities.New: nil store")
	}
	return &Service{db: db}
}

// Occurrence is one occurrence of a vulnerability in a team's artifact.
type Occurrence struct {
	ID               string    `json:"id"`
	VulnerabilityID  string    `json:"vulnerability_id"`
	ArtifactID       string    `json:"artifact_id"`
	PackageClass     string    `json:"package_class"`
	PackageType      string    `json:"package_type"`
	PackageName      string    `json:"package_name"`
	InstalledVersion string    `json:"installed_version"`
	Location         string    `json:"location,omitempty"`
	FixedVersions    []string  `json:"fixed_versions"`
	HasFix           bool      `json:"has_fix"`
	VendorStatus     string    `json:"vendor_status,omitempty"`
	Severity         string    `json:"severity"`
	SeveritySource   string    `json:"severity_source,omitempty"`
	Status           string    `json:"status"`    // open, fixed
	Lifecycle        string    `json:"lifecycle"` // new, reopened, fixed
	FirstSeen        time.Time `json:"first_seen,omitzero"`
	LastSeen         time.Time `json:"last_seen,omitzero"`
	TimesReopened    int64     `json:"times_reopened"`
	FixedAt          time.Time `json:"fixed_at,omitzero"`
	FixedByScan      string    `json:"fixed_by_scan,omitempty"`
	KEV              bool      `json:"kev"` // in CISA KEV now (the KEV join, decision 55)
	KEVStatus
	// Accepted: a risk acceptance (by id or by rule) is in force for it,
	// as its SLA clock says (docs/risk-management.md); AcceptanceIDs are
	// those acceptances.
	Accepted      bool     `json:"accepted"`
	AcceptanceIDs []string `json:"acceptance_ids,omitempty"`
}

// KEVStatus is a vulnerability's standing in CISA KEV, as the KEV join
// copied it: the due date and ransomware flag of the entry in force, since
// when it is listed, or when it was withdrawn.
type KEVStatus struct {
	KEVDueDate     time.Time `json:"kev_due_date,omitzero"`
	KEVRansomware  bool      `json:"kev_ransomware"`
	KEVSince       time.Time `json:"kev_since,omitzero"`
	KEVWithdrawnAt time.Time `json:"kev_withdrawn_at,omitzero"`
}

func kevStatusOf(d map[string]any) KEVStatus {
	return KEVStatus{KEVDueDate: queries.When(d, "kev_due_date"), KEVRansomware: flag(d, "kev_ransomware"),
		KEVSince: queries.When(d, "kev_since"), KEVWithdrawnAt: queries.When(d, "kev_withdrawn_at")}
}

// OccurrenceList is one page of occurrences, most severe first.
type OccurrenceList struct {
	Items      []Occurrence `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Image is a team's scanned image (or other artifact).
type Image struct {
	ArtifactID     string           `json:"artifact_id"`
	Kind           string           `json:"kind"`
	Name           string           `json:"name"`
	IdentityBasis  string           `json:"identity_basis"`
	Digest         string           `json:"digest"` // the identity: ImageID, else a repo digest, else the name
	ImageID        string           `json:"image_id,omitempty"`
	RepoDigests    []RepoDigest     `json:"repo_digests"`
	Tags           []string         `json:"tags"`
	OSFamily       string           `json:"os_family,omitempty"`
	OSName         string           `json:"os_name,omitempty"`
	EOSL           bool             `json:"eosl"`
	Unpinned       bool             `json:"unpinned"`
	Scans          int64            `json:"scans"`
	FirstScannedAt time.Time        `json:"first_scanned_at,omitzero"`
	LastScannedAt  time.Time        `json:"last_scanned_at,omitzero"`
	LastImportID   string           `json:"last_import_id,omitempty"`
	Open           int64            `json:"open"`
	OpenBySeverity map[string]int64 `json:"open_by_severity"`
}

// RepoDigest is where a registry knows an image.
type RepoDigest struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// ImageList is one page of images, most recently scanned first.
type ImageList struct {
	Items      []Image `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// ImageDetail is an image with its open occurrences (the most severe
// MaxOccurrencesShown; Truncated says there are more).
type ImageDetail struct {
	Image
	OpenOccurrences []Occurrence `json:"open_occurrences"`
	Truncated       bool         `json:"truncated"`
}

// CVSS is one source's scoring.
type CVSS struct {
	V2Vector string  `json:"v2_vector,omitempty"`
	V2Score  float64 `json:"v2_score,omitempty"`
	V3Vector string  `json:"v3_vector,omitempty"`
	V3Score  float64 `json:"v3_score,omitempty"`
	V4Vector string  `json:"v4_vector,omitempty"`
	V4Score  float64 `json:"v4_score,omitempty"`
}

// CatalogEntry is a vulnerability's record (public data).
type CatalogEntry struct {
	ID               string            `json:"id"`
	Aliases          []string          `json:"aliases"`
	Title            string            `json:"title,omitempty"`
	Description      string            `json:"description,omitempty"`
	CWEs             []string          `json:"cwes"`
	References       []string          `json:"references"`
	PrimaryURL       string            `json:"primary_url,omitempty"`
	CVSS             map[string]CVSS   `json:"cvss"`
	VendorSeverities map[string]string `json:"vendor_severities"`
	Severity         string            `json:"severity"`
	SeveritySource   string            `json:"severity_source,omitempty"`
	PublishedAt      time.Time         `json:"published_at,omitzero"`
	LastModifiedAt   time.Time         `json:"last_modified_at,omitzero"`
	CatalogedAt      time.Time         `json:"cataloged_at,omitzero"`
	UpdatedAt        time.Time         `json:"updated_at,omitzero"`
	Changed          []string          `json:"changed"` // the fields the last update changed
	KEV              bool              `json:"kev"`
	KEVStatus
}

// VulnerabilityDetail is a catalog entry and where it occurs in the
// caller's team.
type VulnerabilityDetail struct {
	CatalogEntry
	Occurrences []Occurrence `json:"occurrences"`
	Truncated   bool         `json:"truncated"`
}

// ImageFilter narrows ListImages.
type ImageFilter struct {
	Kind string // image (default), fs, repo, rootfs
	EOSL *bool
}

// OccurrenceFilter narrows ListOccurrences; empty fields do not filter.
type OccurrenceFilter struct {
	Severity        string
	VulnerabilityID string
	Status          string // open, fixed
	HasFix          *bool
	KEV             *bool
	// AsOf (with KEV true only): the occurrences first seen by AsOf whose
	// vulnerability was in KEV at AsOf ("was it KEV at T").
	AsOf       time.Time
	ArtifactID string
}

var severities = []vuln.Severity{vuln.SeverityCritical, vuln.SeverityHigh, vuln.SeverityMedium, vuln.SeverityLow, vuln.SeverityUnknown}

// ListImages returns one page of the team's images, most recently
// scanned first.
func (s *Service) ListImages(ctx context.Context, team string, f ImageFilter, p queries.Page) (ImageList, error) {
	if team == "" {
		return ImageList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	kind := strings.ToLower(strings.TrimSpace(f.Kind))
	if kind == "" {
		kind = string(vuln.ArtifactImage)
	}
	if _, ok := vuln.ParseArtifactKind(kind); !ok || kind == "container_image" || kind == "filesystem" || kind == "repository" {
		v.Add("kind", "%q is not one of image, fs, repo, rootfs", f.Kind)
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ImageList{}, err
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team), readmodel.Eq("kind", kind)}
	if f.EOSL != nil {
		terms = append(terms, readmodel.Eq("eosl", *f.EOSL))
	}
	page, err := queries.Find(ctx, s.db, artifactsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{readmodel.Desc("last_scanned_at")},
		Limit: p.Size(), Cursor: p.Cursor,
	})
	if err != nil {
		return ImageList{}, fmt.Errorf("list images: %w", err)
	}
	out := ImageList{Items: make([]Image, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = imageOf(d)
	}
	return out, nil
}

// GetImage returns the team's image by a digest (its ImageID or one of
// its repo digests) or its artifact id, with its open occurrences.
// Another team's is queries.ErrNotFound.
func (s *Service) GetImage(ctx context.Context, team, digest string) (ImageDetail, error) {
	if team == "" {
		return ImageDetail{}, queries.ErrNoTeam
	}
	artifact := digest
	if !strings.HasPrefix(digest, "art-") {
		d, err := s.db.Get(ctx, digestsCollection, "td-"+hash(team, strings.ToLower(digest)))
		switch {
		case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
			return ImageDetail{}, queries.NotFound("image", digest)
		case err != nil:
			return ImageDetail{}, fmt.Errorf("get image %q: %w", digest, err)
		}
		artifact = queries.Str(d, "artifact_id")
	}
	d, err := s.db.Get(ctx, artifactsCollection, "ta-"+hash(team, artifact))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return ImageDetail{}, queries.NotFound("image", digest)
	case err != nil:
		return ImageDetail{}, fmt.Errorf("get image %q: %w", digest, err)
	case queries.Str(d, "team_id") != team || queries.Str(d, "kind") == "":
		return ImageDetail{}, queries.NotFound("image", digest)
	}
	out := ImageDetail{Image: imageOf(d)}
	open := "open"
	list, err := s.ListOccurrences(ctx, team, OccurrenceFilter{ArtifactID: artifact, Status: open}, queries.Page{Limit: MaxOccurrencesShown})
	if err != nil {
		return ImageDetail{}, err
	}
	out.OpenOccurrences, out.Truncated = list.Items, list.NextCursor != ""
	return out, nil
}

// ListOccurrences returns one page of the team's occurrences, most severe
// first (of one severity, when asked: most recently first seen first).
func (s *Service) ListOccurrences(ctx context.Context, team string, f OccurrenceFilter, p queries.Page) (OccurrenceList, error) {
	if team == "" {
		return OccurrenceList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	sev := strings.ToLower(strings.TrimSpace(f.Severity))
	if sev != "" && !queries.OneOf(severities, sev) {
		v.Add("severity", "%q is not one of critical, high, medium, low, unknown", f.Severity)
	}
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && status != "open" && status != "fixed" {
		v.Add("status", "%q is not one of open, fixed", f.Status)
	}
	queries.CheckText(&v, "id", f.VulnerabilityID)
	if !f.AsOf.IsZero() && (f.KEV == nil || !*f.KEV) {
		v.Add("as_of", "is only answered with kev=true")
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return OccurrenceList{}, err
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}

	if f.ArtifactID != "" {
		terms = append(terms, readmodel.Eq("artifact_id", f.ArtifactID))
	}
	if f.VulnerabilityID != "" {
		terms = append(terms, readmodel.Eq("vulnerability_id", vuln.NormalizeID(f.VulnerabilityID)))
	}
	terms = queries.AppendEq(terms, "status", status)
	if f.HasFix != nil {
		terms = append(terms, readmodel.Eq("has_fix", *f.HasFix))
	}
	if !f.AsOf.IsZero() { // was it KEV at T (its flag now may differ)
		if sev != "" {
			terms = append(terms, readmodel.Eq("severity_rank", int64(vuln.Severity(sev).Rank())))
		}
		list, err := s.listKEVAsOf(ctx, terms, f.AsOf, p)
		if err != nil {
			return OccurrenceList{}, err
		}
		return list, s.withAccepted(ctx, team, list.Items)
	}
	if f.KEV != nil {
		terms = append(terms, readmodel.Eq("kev", *f.KEV))
	}
	sort := readmodel.Desc("severity_rank")
	if sev != "" {
		// One severity: newest first (an index seek; sorting by the
		// filtered key made SQLite sort the team's rows).
		terms = append(terms, readmodel.Eq("severity_rank", int64(vuln.Severity(sev).Rank())))
		sort = readmodel.Desc("first_seen")
	}
	page, err := queries.Find(ctx, s.db, occurrencesCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...), Sort: []readmodel.SortField{sort},
		Limit: p.Size(), Cursor: p.Cursor,
	})
	if err != nil {
		return OccurrenceList{}, fmt.Errorf("list occurrences: %w", err)
	}
	out := OccurrenceList{Items: make([]Occurrence, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = occurrenceOf(d)
	}
	return out, s.withAccepted(ctx, team, out.Items)
}

// withAccepted marks the occurrences a risk acceptance is in force for:
// their SLA clocks (same database, same ids) in one read.
func (s *Service) withAccepted(ctx context.Context, team string, items []Occurrence) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]any, len(items))
	for i, o := range items {
		ids[i] = o.ID
	}
	page, err := queries.Find(ctx, s.db, slaClocksCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.In("_id", ids...), readmodel.Eq("accepted", true)), Limit: len(ids)})
	if err != nil {
		return fmt.Errorf("accepted occurrences: %w", err)
	}
	accepted := map[string][]string{}
	for _, d := range page.Docs {
		accepted[queries.Str(d, "_id")] = strsOf(d["acceptance_ids"])
	}
	for i := range items {
		if accs, ok := accepted[items[i].ID]; ok {
			items[i].Accepted, items[i].AcceptanceIDs = true, accs
		}
	}
	return nil
}

// GetVulnerability returns a catalog entry (public) with where it occurs
// in the caller's team (the most severe MaxOccurrencesShown). An id no
// report brought is queries.ErrNotFound.
func (s *Service) GetVulnerability(ctx context.Context, team, id string) (VulnerabilityDetail, error) {
	if team == "" {
		return VulnerabilityDetail{}, queries.ErrNoTeam
	}
	nid := vuln.NormalizeID(id)
	d, err := s.db.Get(ctx, catalogCollection, nid)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return VulnerabilityDetail{}, queries.NotFound("vulnerability", id)
	case err != nil:
		return VulnerabilityDetail{}, fmt.Errorf("get vulnerability %q: %w", id, err)
	}
	out := VulnerabilityDetail{CatalogEntry: catalogOf(d)}
	list, err := s.ListOccurrences(ctx, team, OccurrenceFilter{VulnerabilityID: nid}, queries.Page{Limit: MaxOccurrencesShown})
	if err != nil {
		return VulnerabilityDetail{}, err
	}
	out.Occurrences, out.Truncated = list.Items, list.NextCursor != ""
	return out, nil
}

// hash is projections/vulnerabilities' document-id digest (a test checks
// they agree).
func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func strsOf(v any) []string {
	out := []string{}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func flag(d map[string]any, k string) bool { b, _ := d[k].(bool); return b }

func float(d map[string]any, k string) float64 {
	switch n := d[k].(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

func imageOf(d map[string]any) Image {
	img := Image{ArtifactID: queries.Str(d, "artifact_id"), Kind: queries.Str(d, "kind"), Name: queries.Str(d, "name"),
		IdentityBasis: queries.Str(d, "basis"), Digest: queries.Str(d, "key"), ImageID: queries.Str(d, "image_id"),
		Tags: strsOf(d["tags"]), EOSL: flag(d, "eosl"), Unpinned: flag(d, "unpinned"), Scans: queries.Num(d, "scans"),
		FirstScannedAt: queries.When(d, "first_scanned_at"), LastScannedAt: queries.When(d, "last_scanned_at"),
		LastImportID: queries.Str(d, "last_import_id"), Open: queries.Num(d, "open"), OpenBySeverity: map[string]int64{},
		RepoDigests: []RepoDigest{}}
	osd := queries.Obj(d, "os")
	img.OSFamily, img.OSName = queries.Str(osd, "family"), queries.Str(osd, "name")
	for _, rd := range queries.Objs(d, "repo_digests") {
		img.RepoDigests = append(img.RepoDigests, RepoDigest{Repository: queries.Str(rd, "repository"), Digest: queries.Str(rd, "digest")})
	}
	for k := range queries.Obj(d, "open_by_severity") {
		img.OpenBySeverity[k] = queries.Num(queries.Obj(d, "open_by_severity"), k)
	}
	return img
}

func occurrenceOf(d map[string]any) Occurrence {
	pkg := queries.Obj(d, "package")
	return Occurrence{ID: queries.Str(d, "_id"), VulnerabilityID: queries.Str(d, "vulnerability_id"), ArtifactID: queries.Str(d, "artifact_id"),
		PackageClass: queries.Str(pkg, "class"), PackageType: queries.Str(pkg, "type"), PackageName: queries.Str(pkg, "name"),
		InstalledVersion: queries.Str(pkg, "installed_version"), Location: queries.Str(pkg, "location"),
		FixedVersions: strsOf(d["fixed_versions"]), HasFix: flag(d, "has_fix"), VendorStatus: queries.Str(d, "vendor_status"),
		Severity: queries.Str(d, "severity"), SeveritySource: queries.Str(d, "severity_source"), Status: queries.Str(d, "status"),
		Lifecycle: queries.Str(d, "lifecycle"), FirstSeen: queries.When(d, "first_seen"), LastSeen: queries.When(d, "last_seen"),
		TimesReopened: queries.Num(d, "times_reopened"), FixedAt: queries.When(d, "fixed_at"), FixedByScan: queries.Str(d, "fixed_by_scan"),
		KEV: flag(d, "kev"), KEVStatus: kevStatusOf(d)}
}

func catalogOf(d map[string]any) CatalogEntry {
	e := CatalogEntry{ID: queries.Str(d, "_id"), Aliases: strsOf(d["aliases"]), Title: queries.Str(d, "title"),
		Description: queries.Str(d, "description"), CWEs: strsOf(d["cwes"]), References: strsOf(d["references"]),
		PrimaryURL: queries.Str(d, "primary_url"), CVSS: map[string]CVSS{}, VendorSeverities: map[string]string{},
		Severity: queries.Str(d, "severity"), SeveritySource: queries.Str(d, "severity_source"),
		PublishedAt: queries.When(d, "published_at"), LastModifiedAt: queries.When(d, "last_modified_at"),
		CatalogedAt: queries.When(d, "cataloged_at"), UpdatedAt: queries.When(d, "updated_at"), Changed: strsOf(d["changed"]),
		KEV: flag(d, "kev"), KEVStatus: kevStatusOf(d)}
	for src, v := range queries.Obj(d, "cvss") {
		m, _ := v.(map[string]any)
		e.CVSS[src] = CVSS{V2Vector: queries.Str(m, "v2_vector"), V2Score: float(m, "v2_score"), V3Vector: queries.Str(m, "v3_vector"),
			V3Score: float(m, "v3_score"), V4Vector: queries.Str(m, "v4_vector"), V4Score: float(m, "v4_score")}
	}
	for src, v := range queries.Obj(d, "vendor_severities") {
		e.VendorSeverities[src], _ = v.(string)
	}
	return e
}
