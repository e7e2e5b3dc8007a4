package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// ScannedFinding is what the scans say of one imported finding now.
type ScannedFinding struct {
	ID       string
	Status   string    // open, fixed or resolved
	LastSeen time.Time // its latest failing evaluation
}

// sourceImport marks the findings imports revealed in the findings read
// model (projections/cloudsecurity.SourceImport; a test checks).
const sourceImport = "import"

// ImportedFinding returns what the scans say of the team's imported
// finding id: what the triage commands decide on. queries.ErrNotFound when
// the team has no imported finding of that id (another team's, a finding
// raised through the API, one not projected yet).
func (s *Service) ImportedFinding(ctx context.Context, team, id string) (ScannedFinding, error) {
	if team == "" {
		return ScannedFinding{}, queries.ErrNoTeam
	}
	d, err := s.cloudSecurity.Get(ctx, findingsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return ScannedFinding{}, queries.NotFound("imported finding", id)
	case err != nil:
		return ScannedFinding{}, fmt.Errorf("get finding %q: %w", id, err)
	case queries.Str(d, "team_id") != team || queries.Str(d, "source") != sourceImport:
		return ScannedFinding{}, queries.NotFound("imported finding", id)
	}
	return ScannedFinding{ID: id, Status: queries.Str(d, "status"), LastSeen: queries.When(d, "last_seen")}, nil
}
