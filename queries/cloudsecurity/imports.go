package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Import is one import of a report.
type Import struct {
	ID           string         `json:"id"`
	Status       string         `json:"status"` // importing, completed, rejected
	ScanID       string         `json:"scan_id,omitempty"`
	ArtifactID   string         `json:"artifact_id,omitempty"` // a vulnerability scan's artifact
	Format       string         `json:"format,omitempty"`
	Tool         string         `json:"tool,omitempty"`
	ToolVersion  string         `json:"tool_version,omitempty"`
	ContentHash  string         `json:"content_hash"`
	Size         int64          `json:"size"`
	FileName     string         `json:"file_name,omitempty"`
	Actor        string         `json:"actor,omitempty"`
	Reason       string         `json:"reason,omitempty"` // why it was rejected
	ReceivedAt   time.Time      `json:"received_at,omitzero"`
	EvaluatedAt  time.Time      `json:"evaluated_at,omitzero"`
	CompletedAt  time.Time      `json:"completed_at,omitzero"`
	IdentityRule string         `json:"identity_rule,omitempty"`
	Counts       map[string]any `json:"counts,omitempty"`
	Position     int64          `json:"position,omitempty"`
}

// ImportList is one page of imports, most recently received first.
type ImportList struct {
	Items      []Import `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// GetImport returns the team's import id; another team's, or none, is
// queries.ErrNotFound.
func (s *Service) GetImport(ctx context.Context, team, id string) (Import, error) {
	if team == "" {
		return Import{}, queries.ErrNoTeam
	}
	d, err := s.cloudSecurity.Get(ctx, importsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Import{}, queries.NotFound("import", id)
	case err != nil:
		return Import{}, fmt.Errorf("get import %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Import{}, queries.NotFound("import", id)
	}
	return importOf(d), nil
}

// ListImports returns one page of the team's imports, newest first.
func (s *Service) ListImports(ctx context.Context, team string, p queries.Page) (ImportList, error) {
	if team == "" {
		return ImportList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ImportList{}, err
	}
	page, err := queries.Find(ctx, s.cloudSecurity, importsCollection, readmodel.FindOptions{
		Filter: readmodel.Eq("team_id", team),
		Sort:   []readmodel.SortField{readmodel.Desc("received_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return ImportList{}, fmt.Errorf("list imports: %w", err)
	}
	out := ImportList{Items: make([]Import, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = importOf(d)
	}
	return out, nil
}

func importOf(d readmodel.Doc) Import {
	return Import{
		ID: d.ID(), Status: queries.Str(d, "status"), ScanID: queries.Str(d, "scan_id"), ArtifactID: queries.Str(d, "artifact_id"), Format: queries.Str(d, "format"),
		Tool: queries.Str(d, "tool"), ToolVersion: queries.Str(d, "tool_version"), ContentHash: queries.Str(d, "content_hash"),
		Size: queries.Num(d, "size"), FileName: queries.Str(d, "file_name"), Actor: queries.Str(d, "actor"),
		Reason: queries.Str(d, "reason"), ReceivedAt: queries.When(d, "received_at"), EvaluatedAt: queries.When(d, "evaluated_at"),
		CompletedAt: queries.When(d, "completed_at"), IdentityRule: queries.Str(d, "identity_rule"),
		Counts: queries.Obj(d, "counts"), Position: queries.Num(d, "position"),
	}
}

// Transition is one change of a finding's lifecycle: raised, reopened,
// fixed (by a scan), resolved or suppressed (by a person).
type Transition struct {
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	ScanID   string    `json:"scan_id,omitempty"`
	ImportID string    `json:"import_id,omitempty"` // the import that brought the scan's results
	Actor    string    `json:"actor,omitempty"`     // who resolved or suppressed it, or imported the scan
	Reason   string    `json:"reason,omitempty"`
}

// History is a finding's lifecycle.
type History struct {
	FindingID     string       `json:"finding_id"`
	Source        string       `json:"source"` // import or api
	Status        string       `json:"status"`
	FirstSeen     time.Time    `json:"first_seen,omitzero"`
	LastSeen      time.Time    `json:"last_seen,omitzero"`
	FailingSince  time.Time    `json:"failing_since,omitzero"`
	TimesReopened int64        `json:"times_reopened"`
	Transitions   []Transition `json:"transitions"`
}

// FindingHistory returns the transitions of the team's finding id, oldest
// first, each with its scan (and the import and actor of that scan) or the
// person who made it. Another team's finding, or none, is
// queries.ErrNotFound.
func (s *Service) FindingHistory(ctx context.Context, team, id string) (History, error) {
	if team == "" {
		return History{}, queries.ErrNoTeam
	}
	d, err := s.cloudSecurity.Get(ctx, findingsCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return History{}, queries.NotFound("finding", id)
	case err != nil:
		return History{}, fmt.Errorf("get finding %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return History{}, queries.NotFound("finding", id)
	}
	h := History{FindingID: id, Source: queries.Str(d, "source"), Status: queries.Str(d, "status"),
		Transitions: []Transition{}}
	if h.Source == "" { // raised through the API: its own events
		h.Source = "api"
		h.FirstSeen = queries.When(d, "raised_at")
		h.Transitions = append(h.Transitions, Transition{Kind: "raised", At: h.FirstSeen, ScanID: queries.Str(d, "scan_id")})
		if at := queries.When(d, "suppressed_at"); !at.IsZero() {
			h.Transitions = append(h.Transitions, Transition{Kind: "suppressed", At: at})
		}
		if at := queries.When(d, "resolved_at"); !at.IsZero() {
			h.Transitions = append(h.Transitions, Transition{Kind: "resolved", At: at, Reason: queries.Str(d, "reason")})
		}
		return h, nil
	}
	h.FirstSeen, h.LastSeen = queries.When(d, "first_seen"), queries.When(d, "last_seen")
	h.FailingSince, h.TimesReopened = queries.When(d, "failing_since"), queries.Num(d, "times_reopened")
	imports := map[string]Import{} // by scan
	for _, r := range queries.Objs(queries.Obj(d, "history"), "runs") {
		steps := []struct {
			kind string
			step map[string]any
		}{{"raised", queries.Obj(r, "from")}}
		if len(h.Transitions) > 0 {
			steps[0].kind = "reopened"
		}
		if fix := queries.Obj(r, "fix"); fix != nil {
			kind := "fixed"
			if queries.Str(fix, "scan") == "" {
				kind = "resolved"
			}
			steps = append(steps, struct {
				kind string
				step map[string]any
			}{kind, fix})
		}
		for _, st := range steps {
			t := Transition{Kind: st.kind, At: queries.When(st.step, "at"), ScanID: queries.Str(st.step, "scan"), Actor: queries.Str(st.step, "by")}
			if t.ScanID != "" {
				imp, ok := imports[t.ScanID]
				if !ok {
					if imp, err = s.importOfScan(ctx, team, t.ScanID); err != nil {
						return History{}, err
					}
					imports[t.ScanID] = imp
				}
				t.ImportID, t.Actor = imp.ID, imp.Actor
			}
			if t.Kind == "resolved" {
				t.Reason = queries.Str(d, "reason")
			}
			h.Transitions = append(h.Transitions, t)
		}
	}
	if at := queries.When(d, "suppressed_at"); !at.IsZero() {
		h.Transitions = append(h.Transitions, Transition{Kind: "suppressed", At: at, Actor: queries.Str(d, "suppressed_by"), Reason: queries.Str(d, "reason")})
		sortTransitions(h.Transitions)
	}
	return h, nil
}

// importOfScan is the import that completed a team's scan (none: empty).
func (s *Service) importOfScan(ctx context.Context, team, scanID string) (Import, error) {
	page, err := queries.Find(ctx, s.cloudSecurity, importsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("scan_id", scanID)),
		Limit:  1,
	})
	if err != nil {
		return Import{}, fmt.Errorf("import of scan %q: %w", scanID, err)
	}
	if len(page.Docs) == 0 {
		return Import{}, nil
	}
	return importOf(page.Docs[0]), nil
}

func sortTransitions(ts []Transition) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].At.Before(ts[j-1].At); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}
