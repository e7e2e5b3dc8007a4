package fold

import (
	"context"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// FindingRow is what a cross-module view's counts hold for one finding,
// kept in a collection of that view's own database (scan summaries,
// dashboard): so that a later event of the finding (resolved,
// suppressed) moves the counts it was counted in, whichever order events
// arrive. Raised is false while only later events of the finding were
// seen (Status then holds the furthest status they reached).
type FindingRow struct {
	ID              string
	TeamID          string
	FindingID       string
	Raised          bool
	ScanID          string
	Severity        string
	Status          csdomain.Status
	ResolvedAt      time.Time
	UpdatedPosition int64
}

// LoadFindingRow reads the row id of collection (a zero row for that
// finding when there is none).
func LoadFindingRow(ctx context.Context, tx projections.Tx, collection, id, team, findingID string) (FindingRow, error) {
	d, _, err := Get(ctx, tx, collection, id)
	f := FindingRow{
		ID:              id,
		TeamID:          team,
		FindingID:       findingID,
		Raised:          Flag(d, "raised"),
		ScanID:          Str(d, "scan_id"),
		Severity:        Str(d, "severity"),
		Status:          csdomain.Status(Str(d, "status")),
		ResolvedAt:      Time(d, "resolved_at"),
		UpdatedPosition: Num(d, "updated_position"),
	}
	return f, err
}

// Doc is the row as stored. The row is read by _id only (LoadFindingRow),
// whose key already names the finding, so its id is not stored again,
// nor are the empty fields (OmitEmpty; decision 109). team_id stays: every
// document of a team's read models says whose it is.
func (f FindingRow) Doc() readmodel.Doc {
	return OmitEmpty(readmodel.Doc{
		"_id":              f.ID,
		"team_id":          f.TeamID,
		"raised":           f.Raised,
		"scan_id":          f.ScanID,
		"severity":         f.Severity,
		"status":           string(f.Status),
		"resolved_at":      TimeOrNil(f.ResolvedAt),
		"updated_position": f.UpdatedPosition,
	})
}
