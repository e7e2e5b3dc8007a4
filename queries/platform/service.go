package platform

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Stores are the module databases the platform queries read, one store
// each.
type Stores struct {
	Platform PlatformStore // cspm_platform: dashboard_summaries, api_keys
}

// PlatformStore is what the platform queries read cspm_platform through:
// documents by _id, pages, and counts (the dashboard's certificates are
// counted against the request's clock).
type PlatformStore interface {
	queries.DocReader
	Count(ctx context.Context, collection string, f readmodel.Filter) (int64, error)
}

// Service runs the dashboard and API key queries (the audit queries are
// Audit). It is safe for concurrent use if the stores are.
type Service struct {
	platform PlatformStore
	now      func() time.Time // the dashboard's last 7 and 30 days end today
}

// New returns the platform queries. It panics on a missing store: that is
// a wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.Platform == nil {
		panic("platform.New: a store is missing")
	}
	return &Service{platform: s.Platform, now: time.Now}
}

// WithClock makes the dashboard's "today" now's (tests).
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// The read models' collections, as projections/platform writes them (a
// test checks the names agree).
const (
	dashboardCollection = "dashboard_summaries"
	apiKeysCollection   = "api_keys"
)
