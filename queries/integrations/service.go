// Package integrations holds the integrations queries over
// cspm_integrations: integrations with their connection status (never a
// secret: only whether there is one), health history, wizard sessions and
// webhook delivery logs. Every answer is the caller's team's.
package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Service runs the integrations queries.
type Service struct{ db queries.DocReader }

// New returns the queries; it panics on a nil store (a wiring mistake).
func New(store queries.DocReader) *Service {
	if store == nil {
		panic("integrations.New: a store is missing")
	}
	return &Service{db: store}
}

// The read models projections/integrations writes.
const (
	integrationsColl = "integrations"
	statusColl       = "connection_status"
	healthColl       = "health_checks"
	wizardsColl      = "wizard_sessions"
	deliveriesColl   = "webhook_deliveries"
)

func docID(team, id string) string { return team + "/" + id }

// ConnectionStatus is the last known state of an integration's endpoint.
type ConnectionStatus struct {
	State               string    `json:"state"` // unchecked, up, down
	LastCheckedAt       time.Time `json:"last_checked_at,omitzero"`
	LastLatencyMS       *float64  `json:"last_latency_ms,omitempty"`
	LastError           string    `json:"last_error,omitempty"`
	LastUpAt            time.Time `json:"last_up_at,omitzero"`
	Checks              int64     `json:"checks"`
	UpChecks            int64     `json:"up_checks"`
	ConsecutiveFailures int64     `json:"consecutive_failures"`
}

// Integration is an integration as the API answers it: never its secret.
type Integration struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Config     map[string]string `json:"config"`
	EventKinds []string          `json:"event_kinds,omitempty"`
	HasSecret  bool              `json:"has_secret"`
	Status     string            `json:"status"` // active, removed
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	CreatedBy  string            `json:"created_by,omitempty"`
	Connection ConnectionStatus  `json:"connection"`
}

// IntegrationList is one page of integrations, newest first.
type IntegrationList struct {
	Items      []Integration `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func integrationOf(d, st readmodel.Doc) Integration {
	it := Integration{ID: queries.Str(d, "integration_id"), Name: queries.Str(d, "name"), Kind: queries.Str(d, "kind"),
		Config: map[string]string{}, HasSecret: flag(d, "has_secret"), Status: queries.Str(d, "status"),
		CreatedAt: queries.When(d, "created_at"), UpdatedAt: queries.When(d, "updated_at"), CreatedBy: queries.Str(d, "created_by")}
	for k, v := range queries.Obj(d, "config") {
		if s, ok := v.(string); ok {
			it.Config[k] = s
		}
	}
	if ks, ok := d["event_kinds"].([]any); ok {
		for _, k := range ks {
			if s, ok := k.(string); ok {
				it.EventKinds = append(it.EventKinds, s)
			}
		}
	}
	it.Connection = statusOf(st)
	return it
}

func statusOf(st readmodel.Doc) ConnectionStatus {
	c := ConnectionStatus{State: queries.Str(st, "state"), LastCheckedAt: queries.When(st, "last_checked_at"), LastError: queries.Str(st, "last_error"),
		LastUpAt: queries.When(st, "last_up_at"), Checks: queries.Num(st, "checks"), UpChecks: queries.Num(st, "up_checks"),
		ConsecutiveFailures: queries.Num(st, "consecutive_failures")}
	if c.State == "" {
		c.State = "unchecked"
	}
	if v, ok := num(st, "last_latency_ms"); ok {
		c.LastLatencyMS = &v
	}
	return c
}

func flag(d map[string]any, k string) bool { b, _ := d[k].(bool); return b }

func num(d map[string]any, k string) (float64, bool) {
	switch v := d[k].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// IntegrationFilter narrows the list.
type IntegrationFilter struct{ Kind string }

// ListIntegrations lists the team's integrations, newest first.
func (s *Service) ListIntegrations(ctx context.Context, team string, f IntegrationFilter, p queries.Page) (IntegrationList, error) {
	if team == "" {
		return IntegrationList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	queries.CheckText(&v, "kind", f.Kind)
	if err := v.Err(); err != nil {
		return IntegrationList{}, err
	}
	filter := readmodel.And(queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "kind", f.Kind)...)
	page, err := queries.Find(ctx, s.db, integrationsColl, readmodel.FindOptions{Filter: filter,
		Sort: []readmodel.SortField{readmodel.Desc("created_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return IntegrationList{}, fmt.Errorf("list integrations: %w", err)
	}
	out := IntegrationList{Items: []Integration{}, NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		st, err := s.db.Get(ctx, statusColl, d.ID())
		if err != nil && !errors.Is(err, readmodel.ErrNotFound) {
			return IntegrationList{}, fmt.Errorf("connection status: %w", err)
		}
		out.Items = append(out.Items, integrationOf(d, st))
	}
	return out, nil
}

func (s *Service) get(ctx context.Context, coll, what, team, id string) (readmodel.Doc, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	d, err := s.db.Get(ctx, coll, docID(team, id))
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return nil, queries.NotFound(what, id)
	case err != nil:
		return nil, fmt.Errorf("get %s %q: %w", what, id, err)
	case queries.Str(d, "team_id") != team:
		return nil, queries.NotFound(what, id)
	}
	return d, nil
}

// GetIntegration is one of the team's integrations with its status.
func (s *Service) GetIntegration(ctx context.Context, team, id string) (Integration, error) {
	d, err := s.get(ctx, integrationsColl, "integration", team, id)
	if err != nil {
		return Integration{}, err
	}
	st, err := s.db.Get(ctx, statusColl, docID(team, id))
	if err != nil && !errors.Is(err, readmodel.ErrNotFound) {
		return Integration{}, fmt.Errorf("connection status: %w", err)
	}
	return integrationOf(d, st), nil
}

// HealthCheck is one check.
type HealthCheck struct {
	CheckedAt time.Time `json:"checked_at"`
	Result    string    `json:"result"`
	LatencyMS float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

// HealthHistory is an integration's checks between From and To: the
// uptime (up checks over checks), latency figures of the up checks, and
// one page of checks, oldest first.
type HealthHistory struct {
	IntegrationID string        `json:"integration_id"`
	From          time.Time     `json:"from"`
	To            time.Time     `json:"to"`
	Checks        int           `json:"checks"`
	UpChecks      int           `json:"up_checks"`
	Uptime        *float64      `json:"uptime,omitempty"` // 0..1; absent without checks
	LatencyP50MS  *float64      `json:"latency_p50_ms,omitempty"`
	LatencyP95MS  *float64      `json:"latency_p95_ms,omitempty"`
	LatencyMaxMS  *float64      `json:"latency_max_ms,omitempty"`
	Truncated     bool          `json:"truncated,omitempty"` // the summary covers the first MaxHealthSummary checks
	Items         []HealthCheck `json:"items"`
	NextCursor    string        `json:"next_cursor,omitempty"`
}

// MaxHealthSummary bounds the checks one summary reads (a week of checks
// every minute is 10,080).
const MaxHealthSummary = 20000

// DefaultHealthWindow is the window when from is absent.
const DefaultHealthWindow = 24 * time.Hour

// Health is the team's integration's health between from and to (zero:
// to = now, from = to - 24h).
func (s *Service) Health(ctx context.Context, team, id string, from, to, now time.Time, p queries.Page) (HealthHistory, error) {
	if _, err := s.get(ctx, integrationsColl, "integration", team, id); err != nil {
		return HealthHistory{}, err
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.Add(-DefaultHealthWindow)
	}
	var v domain.Validator
	p.Check(&v)
	v.Check(from.Before(to), "from", "must be before to")
	if err := v.Err(); err != nil {
		return HealthHistory{}, err
	}
	filter := readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("integration_id", id),
		readmodel.Gte("checked_at", readmodel.NormalizeTime(from)), readmodel.Lt("checked_at", readmodel.NormalizeTime(to)))
	sortBy := []readmodel.SortField{readmodel.Asc("checked_at")}
	out := HealthHistory{IntegrationID: id, From: readmodel.NormalizeTime(from), To: readmodel.NormalizeTime(to), Items: []HealthCheck{}}
	page, err := queries.Find(ctx, s.db, healthColl, readmodel.FindOptions{Filter: filter, Sort: sortBy, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return HealthHistory{}, fmt.Errorf("health checks: %w", err)
	}
	for _, d := range page.Docs {
		out.Items = append(out.Items, checkOf(d))
	}
	out.NextCursor = page.NextCursor
	// The summary reads the whole window (bounded).
	var lat []float64
	cursor := ""
	for {
		pg, err := queries.Find(ctx, s.db, healthColl, readmodel.FindOptions{Filter: filter, Sort: sortBy, Limit: queries.MaxLimit, Cursor: cursor})
		if err != nil {
			return HealthHistory{}, fmt.Errorf("health summary: %w", err)
		}
		for _, d := range pg.Docs {
			c := checkOf(d)
			out.Checks++
			if c.Result == "up" {
				out.UpChecks++
				lat = append(lat, c.LatencyMS)
			}
		}
		if pg.NextCursor == "" {
			break
		}
		if out.Checks >= MaxHealthSummary {
			out.Truncated = true
			break
		}
		cursor = pg.NextCursor
	}
	if out.Checks > 0 {
		u := float64(out.UpChecks) / float64(out.Checks)
		out.Uptime = &u
	}
	if len(lat) > 0 {
		sort.Float64s(lat)
		p50, p95, mx := quantile(lat, 0.50), quantile(lat, 0.95), lat[len(lat)-1]
		out.LatencyP50MS, out.LatencyP95MS, out.LatencyMaxMS = &p50, &p95, &mx
	}
	return out, nil
}

func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func checkOf(d readmodel.Doc) HealthCheck {
	l, _ := num(d, "latency_ms")
	return HealthCheck{CheckedAt: queries.When(d, "checked_at"), Result: queries.Str(d, "result"), LatencyMS: l, Error: queries.Str(d, "error")}
}

// Wizard is a setup session.
type Wizard struct {
	ID            string                       `json:"id"`
	Kind          string                       `json:"kind"`
	Steps         []string                     `json:"steps"`
	Data          map[string]map[string]string `json:"data"`
	NextStep      string                       `json:"next_step,omitempty"` // the first step not saved yet
	Status        string                       `json:"status"`              // open, completed, expired
	StartedAt     time.Time                    `json:"started_at"`
	UpdatedAt     time.Time                    `json:"updated_at"`
	ExpiresAt     time.Time                    `json:"expires_at"`
	IntegrationID string                       `json:"integration_id,omitempty"`
}

// GetWizard is one of the team's wizard sessions.
func (s *Service) GetWizard(ctx context.Context, team, id string) (Wizard, error) {
	d, err := s.get(ctx, wizardsColl, "wizard session", team, id)
	if err != nil {
		return Wizard{}, err
	}
	w := Wizard{ID: queries.Str(d, "wizard_id"), Kind: queries.Str(d, "kind"), Data: map[string]map[string]string{}, Status: queries.Str(d, "status"),
		StartedAt: queries.When(d, "started_at"), UpdatedAt: queries.When(d, "updated_at"), ExpiresAt: queries.When(d, "expires_at"),
		IntegrationID: queries.Str(d, "integration_id")}
	if ss, ok := d["steps"].([]any); ok {
		for _, x := range ss {
			if s, ok := x.(string); ok {
				w.Steps = append(w.Steps, s)
			}
		}
	}
	for step, m := range queries.Obj(d, "data") {
		mm, _ := m.(map[string]any)
		out := map[string]string{}
		for k, v := range mm {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		w.Data[step] = out
	}
	for _, st := range w.Steps {
		if _, ok := w.Data[st]; !ok {
			w.NextStep = st
			break
		}
	}
	return w, nil
}

// Delivery is one webhook delivery of the log (never its body's secret
// signature; the body itself is the payload the receiver gets).
type Delivery struct {
	ID             string          `json:"id"`
	EventKind      string          `json:"event_kind"`
	EventRef       string          `json:"event_ref"`
	Position       int64           `json:"event_position"`
	Status         string          `json:"status"` // pending, delivered
	Attempts       int64           `json:"attempts"`
	CreatedAt      time.Time       `json:"created_at"`
	NextAttemptAt  time.Time       `json:"next_attempt_at,omitzero"`
	LastAttemptAt  time.Time       `json:"last_attempt_at,omitzero"`
	LastStatusCode int64           `json:"last_status_code,omitempty"`
	LastError      string          `json:"last_error,omitempty"`
	DeliveredAt    time.Time       `json:"delivered_at,omitzero"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

// DeliveryList is one page of a delivery log, newest event first.
type DeliveryList struct {
	Items      []Delivery `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// DeliveryStatuses are the statuses a log filters on.
var DeliveryStatuses = []string{"pending", "delivered"}

// ListDeliveries is the team's integration's delivery log.
func (s *Service) ListDeliveries(ctx context.Context, team, id, status string, p queries.Page) (DeliveryList, error) {
	if _, err := s.get(ctx, integrationsColl, "integration", team, id); err != nil {
		return DeliveryList{}, err
	}
	var v domain.Validator
	p.Check(&v)
	v.Check(status == "" || slices.Contains(DeliveryStatuses, status), "status", "must be pending or delivered")
	if err := v.Err(); err != nil {
		return DeliveryList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team), readmodel.Eq("integration_id", id)}, "status", status)
	page, err := queries.Find(ctx, s.db, deliveriesColl, readmodel.FindOptions{Filter: readmodel.And(terms...),
		Sort: []readmodel.SortField{readmodel.Desc("position")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return DeliveryList{}, fmt.Errorf("deliveries: %w", err)
	}
	out := DeliveryList{Items: []Delivery{}, NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		out.Items = append(out.Items, deliveryOf(d, true))
	}
	return out, nil
}

func deliveryOf(d readmodel.Doc, payload bool) Delivery {
	x := Delivery{ID: d.ID(), EventKind: queries.Str(d, "event_kind"), EventRef: queries.Str(d, "event_ref"), Position: queries.Num(d, "position"),
		Status: queries.Str(d, "status"), Attempts: queries.Num(d, "attempts"), CreatedAt: queries.When(d, "created_at"),
		NextAttemptAt: queries.When(d, "next_attempt_at"), LastAttemptAt: queries.When(d, "last_attempt_at"),
		LastStatusCode: queries.Num(d, "last_status_code"), LastError: queries.Str(d, "last_error"), DeliveredAt: queries.When(d, "delivered_at")}
	if b := queries.Str(d, "body"); payload && json.Valid([]byte(b)) {
		x.Payload = json.RawMessage(b)
	}
	return x
}
