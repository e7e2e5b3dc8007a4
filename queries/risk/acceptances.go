package risk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Acceptance is a risk acceptance of the team.
type Acceptance struct {
	ID         string               `json:"id"`
	RiskID     string               `json:"risk_id,omitempty"`
	Scope      rdomain.Scope        `json:"scope"`
	Reason     string               `json:"reason"`
	Approver   string               `json:"approver"`
	ApprovedBy string               `json:"approved_by,omitempty"` // the key's actor that approved it
	AcceptedAt time.Time            `json:"accepted_at"`
	ExpiresAt  time.Time            `json:"expires_at"`
	Status     string               `json:"status"` // active, revoked, expired, closed
	EndedAt    time.Time            `json:"ended_at,omitzero"`
	EndReason  string               `json:"end_reason,omitempty"`
	Fixed      map[string]time.Time `json:"fixed,omitempty"` // items fixed while accepted
}

type storedAcceptance struct {
	Acceptance
	AcceptanceID string `json:"acceptance_id"`
}

func acceptanceOf(d readmodel.Doc) (Acceptance, error) {
	var a storedAcceptance
	if err := decode(d, &a); err != nil {
		return Acceptance{}, err
	}
	a.Acceptance.ID = a.AcceptanceID
	return a.Acceptance, nil
}

// AcceptanceList is one page of acceptances.
type AcceptanceList struct {
	Items      []Acceptance `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// AcceptanceFilter narrows ListAcceptances.
type AcceptanceFilter struct {
	Status string // active, revoked, expired, closed: with it, soonest expiry first
	ItemID string // the acceptances of one finding or occurrence
}

var acceptanceStatuses = []string{rdomain.AcceptanceActive, rdomain.AcceptanceRevoked, rdomain.AcceptanceExpired, rdomain.AcceptanceClosed}

// ListAcceptances returns one page of the team's acceptances: newest
// first, or with a status, soonest expiry first.
func (s *Service) ListAcceptances(ctx context.Context, team string, f AcceptanceFilter, p queries.Page) (AcceptanceList, error) {
	if team == "" {
		return AcceptanceList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	status := strings.ToLower(strings.TrimSpace(f.Status))
	v.Check(status == "" || queries.OneOf(acceptanceStatuses, status), "status", "must be one of %s", strings.Join(acceptanceStatuses, ", "))
	queries.CheckText(&v, "item_id", f.ItemID)
	if err := v.Err(); err != nil {
		return AcceptanceList{}, err
	}
	if f.ItemID != "" {
		return s.itemAcceptances(ctx, team, f.ItemID, status)
	}
	sort := []readmodel.SortField{readmodel.Desc("accepted_at")}
	if status != "" {
		sort = []readmodel.SortField{readmodel.Asc("expires_at")}
	}
	page, err := queries.Find(ctx, s.rm, acceptancesCollection, readmodel.FindOptions{
		Filter: readmodel.And(queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)...),
		Sort:   sort, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return AcceptanceList{}, fmt.Errorf("list risk acceptances: %w", err)
	}
	out := AcceptanceList{Items: make([]Acceptance, 0, len(page.Docs)), NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		a, err := acceptanceOf(d)
		if err != nil {
			return AcceptanceList{}, err
		}
		out.Items = append(out.Items, a)
	}
	return out, nil
}

// itemAcceptances lists the acceptances naming one item (at most the
// few an item has: one page).
func (s *Service) itemAcceptances(ctx context.Context, team, item, status string) (AcceptanceList, error) {
	out := AcceptanceList{Items: []Acceptance{}}
	d, err := s.rm.Get(ctx, acceptedItemsCollection, queries.TeamKey(team, item))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return out, nil
	case err != nil:
		return AcceptanceList{}, fmt.Errorf("accepted item %q: %w", item, err)
	}
	for id := range queries.Obj(d, "acceptances") {
		var a Acceptance
		if err := s.get(ctx, acceptancesCollection, "risk acceptance", team, id, &a); err != nil {
			if errors.Is(err, queries.ErrNotFound) {
				continue
			}
			return AcceptanceList{}, err
		}
		a.ID = id
		if status == "" || a.Status == status {
			out.Items = append(out.Items, a)
		}
	}
	return out, nil
}

// GetAcceptance returns the team's acceptance.
func (s *Service) GetAcceptance(ctx context.Context, team, id string) (Acceptance, error) {
	var a storedAcceptance
	if err := s.get(ctx, acceptancesCollection, "risk acceptance", team, id, &a); err != nil {
		return Acceptance{}, err
	}
	a.Acceptance.ID = a.AcceptanceID
	return a.Acceptance, nil
}

// DueAcceptance is an active acceptance whose expiry has passed.
type DueAcceptance struct {
	ID, TeamID string
	ExpiresAt  time.Time
}

// DueAcceptanceList is one page of due acceptances, soonest first.
type DueAcceptanceList struct {
	Items      []DueAcceptance
	NextCursor string
}

// DueAcceptances lists the active acceptances of every team whose expiry
// is at or before now: what the expiry scheduler ends. A system query:
// never serve it to a caller.
func (s *Service) DueAcceptances(ctx context.Context, now time.Time, p queries.Page) (DueAcceptanceList, error) {
	var v domain.Validator
	p.Check(&v)
	v.Check(!now.IsZero(), "now", "is required")
	if err := v.Err(); err != nil {
		return DueAcceptanceList{}, err
	}
	page, err := queries.Find(ctx, s.rm, acceptancesCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("status", rdomain.AcceptanceActive), readmodel.Lte("expires_at", readmodel.NormalizeTime(now))),
		Sort:   []readmodel.SortField{readmodel.Asc("expires_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return DueAcceptanceList{}, fmt.Errorf("due risk acceptances: %w", err)
	}
	out := DueAcceptanceList{NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		out.Items = append(out.Items, DueAcceptance{ID: queries.Str(d, "acceptance_id"), TeamID: queries.Str(d, "team_id"), ExpiresAt: queries.When(d, "expires_at")})
	}
	return out, nil
}
