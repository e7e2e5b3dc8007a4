package integrations

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// System queries: what the schedulers of `cspm serve` work through, across
// teams. Never serve them to a caller.

// ActiveIntegration is an active integration of some team.
type ActiveIntegration struct {
	ID, TeamID, Kind, URL string
	EventKinds            []string
}

// ActiveIntegrationList is one page of them.
type ActiveIntegrationList struct {
	Items      []ActiveIntegration
	NextCursor string
}

// ActiveIntegrations lists the active integrations of every team (of one
// kind when kind is set).
func (s *Service) ActiveIntegrations(ctx context.Context, kind string, p queries.Page) (ActiveIntegrationList, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ActiveIntegrationList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("status", "active")}, "kind", kind)
	page, err := queries.Find(ctx, s.db, integrationsColl, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Asc("kind")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return ActiveIntegrationList{}, fmt.Errorf("active integrations: %w", err)
	}
	out := ActiveIntegrationList{NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		out.Items = append(out.Items, ActiveIntegration{ID: queries.Str(d, "integration_id"), TeamID: queries.Str(d, "team_id"),
			Kind: queries.Str(d, "kind"), URL: queries.Str(d, "url"), EventKinds: strList(d, "event_kinds")})
	}
	return out, nil
}

// DueDelivery is a pending delivery whose next attempt is due.
type DueDelivery struct {
	ID, TeamID, IntegrationID, EventRef, EventKind string
	Position                                       int64
	Attempts                                       int64
	Body                                           []byte
}

// DueDeliveries lists up to limit pending deliveries of the integration
// due at now, the earliest due first (then the oldest event).
func (s *Service) DueDeliveries(ctx context.Context, integrationID string, now time.Time, limit int) ([]DueDelivery, error) {
	page, err := queries.Find(ctx, s.db, deliveriesColl, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("integration_id", integrationID), readmodel.Eq("status", "pending"),
			readmodel.Lte("next_attempt_at", readmodel.NormalizeTime(now))),
		Sort: []readmodel.SortField{readmodel.Asc("next_attempt_at"), readmodel.Asc("position")}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	out := make([]DueDelivery, 0, len(page.Docs))
	for _, d := range page.Docs {
		out = append(out, DueDelivery{ID: d.ID(), TeamID: queries.Str(d, "team_id"), IntegrationID: integrationID,
			EventRef: queries.Str(d, "event_ref"), EventKind: queries.Str(d, "event_kind"), Position: queries.Num(d, "position"),
			Attempts: queries.Num(d, "attempts"), Body: []byte(queries.Str(d, "body"))})
	}
	return out, nil
}

// DueWizard is an open wizard session past its expiry.
type DueWizard struct {
	ID, TeamID string
	ExpiresAt  time.Time
}

// DueWizardList is one page of them.
type DueWizardList struct {
	Items      []DueWizard
	NextCursor string
}

// DueWizards lists the open sessions of every team whose expiry is at or
// before now.
func (s *Service) DueWizards(ctx context.Context, now time.Time, p queries.Page) (DueWizardList, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return DueWizardList{}, err
	}
	page, err := queries.Find(ctx, s.db, wizardsColl, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("status", "open"), readmodel.Lte("expires_at", readmodel.NormalizeTime(now))),
		Sort:   []readmodel.SortField{readmodel.Asc("expires_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return DueWizardList{}, fmt.Errorf("due wizards: %w", err)
	}
	out := DueWizardList{NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		out.Items = append(out.Items, DueWizard{ID: queries.Str(d, "wizard_id"), TeamID: queries.Str(d, "team_id"), ExpiresAt: queries.When(d, "expires_at")})
	}
	return out, nil
}

func strList(d map[string]any, k string) []string {
	var out []string
	if xs, ok := d[k].([]any); ok {
		for _, x := range xs {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
