package queries

import (
	"context"
	"errors"
	"net/url"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// DocGetter reads one document by _id (a subset of readmodel.Store).
type DocGetter interface {
	Get(ctx context.Context, collection, id string) (readmodel.Doc, error)
}

// DocFinder reads one page of documents (a subset of readmodel.Store).
type DocFinder interface {
	Find(ctx context.Context, collection string, opts readmodel.FindOptions) (readmodel.Page, error)
}

// DocReader is DocGetter and DocFinder.
type DocReader interface {
	DocGetter
	DocFinder
}

// Stores are the module databases the queries read, one store each.
type Stores struct {
	Orchestration DocReader // cspm_orchestration: scan_runs, scan_summaries
	CloudSecurity DocFinder // cspm_cloud_security: findings
	Platform      DocReader // cspm_platform: dashboard_summaries, api_keys
}

// Service runs the queries. It is safe for concurrent use if the stores are.
type Service struct {
	orchestration DocReader
	cloudSecurity DocFinder
	platform      DocReader
}

// New returns the query service. It panics on a missing store: that is a
// wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.Orchestration == nil || s.CloudSecurity == nil || s.Platform == nil {
		panic("queries.New: a store is missing")
	}
	return &Service{orchestration: s.Orchestration, cloudSecurity: s.CloudSecurity, platform: s.Platform}
}

// ErrNoTeam: a query was called without the caller's team, a wiring
// mistake (the team comes from credentials, never from input).
var ErrNoTeam = errors.New("queries: no team")

// The read models' collections, as the projections write them
// (projections/orchestration, projections/cloudsecurity,
// projections/platform; a test checks the names agree).
const (
	scanRunsCollection      = "scan_runs"
	scanSummariesCollection = "scan_summaries"
	findingsCollection      = "findings"
	dashboardCollection     = "dashboard_summaries"
	apiKeysCollection       = "api_keys"
)

// teamKey is the _id of one team's document about id in a cross-stream read
// model (scan_summaries), as the projections build it.
func teamKey(team, id string) string { return url.PathEscape(team) + "/" + id }
