package orchestration

import (
	"net/url"
	"time"
)

// Projection names (stable: they name the consumers and checkpoints).
const (
	ScanRunsName      = "orchestration.scan_runs"
	ScanSummariesName = "orchestration.scan_summaries"
)

// Collections of the orchestration module database.
const (
	ScanRunsCollection      = "scan_runs"
	ScanSummariesCollection = "scan_summaries"
	// FindingIndexCollection is internal to ScanSummaries: finding → scan,
	// severity, status. Queries never read it.
	FindingIndexCollection = "scan_finding_index"
)

// ResultTTL is how long scan results are kept once they can no longer
// change (docs/architecture.md §3: 180 days by default on scan-result read models).
const ResultTTL = 180 * 24 * time.Hour

// Key is the _id of a document that belongs to one team's view of id (a
// scan or finding id) in a cross-stream read model: the team (path-escaped,
// so it holds no '/') and the id joined by '/'. Scoping by team means events
// of one team can never change another team's document, even if they name
// the same id.
func Key(team, id string) string { return url.PathEscape(team) + "/" + id }
