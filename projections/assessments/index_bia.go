package assessments

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// indexBIACollection keeps what a BIA's entry of the unified view is made
// of (its events arrive in stream order: one document per BIA).
const indexBIACollection = "index_bias"

// indexBIA is a business impact analysis as the unified view shows it: its
// title, status (draft, in_review, approved), progress (complete processes
// in percent, carried by every event that changes it), due date.
type indexBIA struct {
	Title, Status string
	Progress      int64
	Due, Updated  time.Time
	Created       bool
}

// biaEventTypes are the BIA events the unified view folds.
var biaEventTypes = []string{bia.BIACreated{}.EventType(), bia.BIADetailsChanged{}.EventType(), bia.BusinessProcessAdded{}.EventType(),
	bia.BusinessProcessChanged{}.EventType(), bia.BusinessProcessRemoved{}.EventType(), bia.BIASubmittedForReview{}.EventType(),
	bia.BIAApproved{}.EventType(), bia.BIAReopened{}.EventType()}

// applyBIA folds a BIA event into its entry (KindBIA); handled is false
// for any other event.
func applyBIA(ctx context.Context, tx projections.Tx, ev projections.Event) (handled bool, err error) {
	var id string
	var change func(*indexBIA)
	switch e := fold.Value(ev.Data).(type) {
	case bia.BIACreated:
		id, change = e.BIAID, func(s *indexBIA) {
			s.Title, s.Status, s.Due, s.Updated, s.Created = e.Title, string(e.Status), e.DueDate, e.CreatedAt, true
		}
	case bia.BIADetailsChanged:
		id, change = e.BIAID, func(s *indexBIA) { s.Title, s.Due, s.Updated = e.Title, e.DueDate, fold.Later(s.Updated, e.ChangedAt) }
	case bia.BusinessProcessAdded:
		id, change = e.BIAID, progressed(e.Progress, e.AddedAt)
	case bia.BusinessProcessChanged:
		id, change = e.BIAID, progressed(e.Progress, e.ChangedAt)
	case bia.BusinessProcessRemoved:
		id, change = e.BIAID, progressed(e.Progress, e.RemovedAt)
	case bia.BIASubmittedForReview:
		id, change = e.BIAID, func(s *indexBIA) {
			progressed(e.Progress, e.SubmittedAt)(s)
			s.Status = string(bia.StatusInReview)
		}
	case bia.BIAApproved:
		id, change = e.BIAID, func(s *indexBIA) {
			s.Status, s.Updated = string(bia.StatusApproved), fold.Later(s.Updated, e.ApprovedAt)
		}
	case bia.BIAReopened:
		id, change = e.BIAID, func(s *indexBIA) { s.Status, s.Updated = string(bia.StatusDraft), fold.Later(s.Updated, e.ReopenedAt) }
	default:
		return false, nil
	}
	var s indexBIA
	if _, err := getState(ctx, tx, indexBIACollection, id, &s); err != nil {
		return true, err
	}
	change(&s)
	if err := putState(tx, indexBIACollection, id, s, nil); err != nil {
		return true, err
	}
	if !s.Created { // a BIA's stream starts with BIACreated: nothing to show before it
		return true, nil
	}
	pct := s.Progress
	return true, PutIndexEntry(ctx, tx, IndexEntry{ID: KindBIA + "/" + id, Team: ev.Metadata.TeamID, Kind: KindBIA, Module: "bia",
		SourceID: id, Title: s.Title, Status: s.Status, Progress: &pct, DueDate: s.Due, UpdatedAt: s.Updated,
		Seq: fmt.Sprintf("%020d", ev.Position)})
}

func progressed(p bia.Progress, at time.Time) func(*indexBIA) {
	return func(s *indexBIA) { s.Progress, s.Updated = int64(p.Percent), fold.Later(s.Updated, at) }
}
