package vulnerabilities

import (
	"fmt"
	"time"
)

// Events of the vulnerabilities module (decision 48). A Trivy report's
// import is one stream, "vulnscan-<import id>": ScanImportStarted, the
// report's facts in chunks (ScanResultsRecorded, never one event per
// occurrence), ArtifactScanned (the completion, naming the artifact: the
// scope of what the scan can fix). A report refused whole is
// ScanImportRejected alone. The catalog is one stream per vulnerability id,
// "vulnerability-<id>" (VulnerabilityCataloged, then VulnerabilityUpdated
// naming the fields that changed), and a team's image tag is one stream,
// "imagetag-<digest>" (ImageTagMoved each time the tag names another
// artifact).

// ScanImportStarted: a team imports a scanner report of one artifact.
type ScanImportStarted struct {
	ImportID    string `json:"import_id"`
	Format      string `json:"format"`
	Tool        string `json:"tool"`
	ToolVersion string `json:"tool_version,omitempty"`
	ContentHash string `json:"content_hash"`
	Size        int64  `json:"size"`
	FileName    string `json:"file_name,omitempty"`
	// ArtifactID and Identity: what the scan looked at (decision 46).
	ArtifactID string           `json:"artifact_id"`
	Identity   ArtifactIdentity `json:"identity"`
	// ScannedAt is the report's creation time (the import time for
	// reports without one).
	ScannedAt time.Time `json:"scanned_at"`
	StartedAt time.Time `json:"started_at"`
}

// ScanResultsRecorded is a chunk of a scan's facts: occurrences of
// vulnerabilities in the artifact's packages, misconfigurations, secrets
// (their location and rule, never their value).
type ScanResultsRecorded struct {
	ImportID          string             `json:"import_id"`
	ArtifactID        string             `json:"artifact_id"`
	Identity          ArtifactIdentity   `json:"identity"`
	IdentityRule      IdentityRule       `json:"identity_rule"`
	ScannedAt         time.Time          `json:"scanned_at"`
	Occurrences       []Occurrence       `json:"occurrences,omitempty"`
	Misconfigurations []Misconfiguration `json:"misconfigurations,omitempty"`
	Secrets           []Secret           `json:"secrets,omitempty"`
}

// ScanCounts are what a scan's report held.
type ScanCounts struct {
	Occurrences             int              `json:"occurrences"`
	DistinctVulnerabilities int              `json:"distinct_vulnerabilities"`
	BySeverity              map[Severity]int `json:"by_severity,omitempty"`
	Misconfigurations       int              `json:"misconfigurations"`
	Secrets                 int              `json:"secrets"`
	Chunks                  int              `json:"chunks"`
}

// ArtifactScanned completes a scan's import: the artifact as the report
// describes it (tags, repo digests, OS and its end of support). Every
// open occurrence of this artifact (and of no other) that the scan did not
// report is fixed by it.
type ArtifactScanned struct {
	ImportID     string           `json:"import_id"`
	ArtifactID   string           `json:"artifact_id"`
	Identity     ArtifactIdentity `json:"identity"`
	Artifact     Artifact         `json:"artifact"`
	IdentityRule IdentityRule     `json:"identity_rule"`
	// Unpinned: an image named only by its name (no ImageID, no repo
	// digest), accepted with a warning (decision 49).
	Unpinned    bool       `json:"unpinned,omitempty"`
	ScannedAt   time.Time  `json:"scanned_at"`
	Counts      ScanCounts `json:"counts"`
	CompletedAt time.Time  `json:"completed_at"`
}

// ScanImportRejected: the report was refused whole; nothing else is
// recorded.
type ScanImportRejected struct {
	ImportID    string    `json:"import_id"`
	Format      string    `json:"format,omitempty"`
	ContentHash string    `json:"content_hash"`
	Size        int64     `json:"size"`
	FileName    string    `json:"file_name,omitempty"`
	Reason      string    `json:"reason"`
	RejectedAt  time.Time `json:"rejected_at"`
}

// VulnerabilityCataloged: a vulnerability id entered the catalog with the
// record a report brought.
type VulnerabilityCataloged struct {
	Record     Record    `json:"record"`
	ImportID   string    `json:"import_id"`
	CatalogAt  time.Time `json:"cataloged_at"`
	ReportedAt time.Time `json:"reported_at"`
}

// VulnerabilityUpdated: a newer report changed a catalog entry; Changed
// names the fields (the catalog-merge rule, decision 47).
type VulnerabilityUpdated struct {
	Record     Record    `json:"record"`
	Changed    []string  `json:"changed"`
	ImportID   string    `json:"import_id"`
	UpdatedAt  time.Time `json:"updated_at"`
	ReportedAt time.Time `json:"reported_at"`
}

// ImageTagMoved: a team's tag names another artifact (From is "" the
// first time the tag is seen).
type ImageTagMoved struct {
	Tag      string    `json:"tag"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to"`
	ImportID string    `json:"import_id"`
	MovedAt  time.Time `json:"moved_at"` // the scan that saw it there
}

func (ScanImportStarted) EventType() string      { return "ScanImportStarted" }
func (ScanResultsRecorded) EventType() string    { return "ScanResultsRecorded" }
func (ArtifactScanned) EventType() string        { return "ArtifactScanned" }
func (ScanImportRejected) EventType() string     { return "ScanImportRejected" }
func (VulnerabilityCataloged) EventType() string { return "VulnerabilityCataloged" }
func (VulnerabilityUpdated) EventType() string   { return "VulnerabilityUpdated" }
func (ImageTagMoved) EventType() string          { return "ImageTagMoved" }

// ScanImportID is the import id of a team's report of the given content
// hash: the same bytes imported again by the same team name the same
// import.
func ScanImportID(team, contentHash string) string {
	return "vim-" + digest("vulnerabilities/import", team, contentHash)
}

// TagKey is the id of a team's tag (its stream "imagetag-<key>").
func TagKey(team, tag string) string { return "tag-" + digest("vulnerabilities/tag", team, tag) }

// CatalogDecision is what a report's record does to the catalog entry of
// its id, given the entry's events so far: a VulnerabilityCataloged (a new
// id), a VulnerabilityUpdated (the merge rule applies), or nothing.
func CatalogDecision(history []any, incoming Record, importID string, reportedAt, now time.Time) (any, error) {
	incoming.Normalize()
	var stored *Record
	for _, e := range history {
		switch e := e.(type) {
		case VulnerabilityCataloged:
			r := e.Record
			stored = &r
		case VulnerabilityUpdated:
			r := e.Record
			stored = &r
		default:
			return nil, fmt.Errorf("catalog %s: unexpected event %T", incoming.ID, e)
		}
	}
	if stored == nil {
		return VulnerabilityCataloged{Record: incoming, ImportID: importID, CatalogAt: now, ReportedAt: reportedAt}, nil
	}
	out := Merge(*stored, incoming)
	if !out.Apply {
		return nil, nil
	}
	return VulnerabilityUpdated{Record: out.Record, Changed: out.Changed, ImportID: importID, UpdatedAt: now, ReportedAt: reportedAt}, nil
}

// TagDecision is the move of tag onto artifact seen by a scan at at, given
// the tag's events so far: nothing when the tag already names it, or when
// a later scan placed the tag elsewhere (an old report imported late does
// not move a tag back).
func TagDecision(history []ImageTagMoved, tag, artifact, importID string, at time.Time) *ImageTagMoved {
	from := ""
	var last time.Time
	for _, e := range history {
		from, last = e.To, e.MovedAt
	}
	if from == artifact || (!last.IsZero() && at.Before(last)) {
		return nil
	}
	return &ImageTagMoved{Tag: tag, From: from, To: artifact, ImportID: importID, MovedAt: at}
}
