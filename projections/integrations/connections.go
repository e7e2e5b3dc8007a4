// Package integrations holds the integrations module's projections over
// cspm_integrations: the integrations with their connection status and
// health history, the wizard sessions, and the webhook outbox (the
// deliveries each subscription is owed, with their state).
package integrations

import (
	"context"
	"fmt"
	"strconv"

	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the connections projection and its collections.
const (
	ConnectionsName            = "integrations.connections"
	IntegrationsCollection     = "integrations"
	ConnectionStatusCollection = "connection_status"
	HealthChecksCollection     = "health_checks"
	WizardSessionsCollection   = "wizard_sessions"
)

// Connections keeps one document per integration (its definition: never
// the secret, only whether it has one and the key id that sealed it), its
// connection status (unique integration_id), one document per health check
// (the uptime and latency history) and the wizard sessions.
type Connections struct{}

var _ projections.Projection = Connections{}

// NewConnections returns the "integrations.connections" projection.
func NewConnections() Connections { return Connections{} }

// Name implements projections.Projection.
func (Connections) Name() string { return ConnectionsName }

// Database implements projections.Projection.
func (Connections) Database() dbregistry.Constant { return dbregistry.INTEGRATIONS }

// EventTypes implements projections.Projection.
func (Connections) EventTypes() []string {
	return []string{in.IntegrationCreated{}.EventType(), in.IntegrationChanged{}.EventType(), in.IntegrationRemoved{}.EventType(),
		in.IntegrationHealthChecked{}.EventType(), in.WizardStarted{}.EventType(), in.WizardStepSaved{}.EventType(),
		in.WizardCompleted{}.EventType(), in.WizardExpired{}.EventType()}
}

func f(path string, desc bool) readmodel.IndexField {
	return readmodel.IndexField{Path: path, Desc: desc}
}

// Collections implements projections.Projection.
func (Connections) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: IntegrationsCollection, Indexes: []readmodel.Index{
			// GET /api/v1/integrations (?kind=), newest first.
			{Name: "by_team_created", Fields: []readmodel.IndexField{f("team_id", false), f("created_at", true)}},
			// The health checker and the webhook dispatcher: active integrations of every team.
			{Name: "by_status_kind", Fields: []readmodel.IndexField{f("status", false), f("kind", false)}},
		}},
		{Name: ConnectionStatusCollection, Indexes: []readmodel.Index{
			{Name: "uniq_integration_id", Unique: true, Fields: []readmodel.IndexField{f("integration_id", false)}},
			{Name: "by_team_state", Fields: []readmodel.IndexField{f("team_id", false), f("state", false)}},
		}},
		{Name: HealthChecksCollection, Indexes: []readmodel.Index{
			// GET /api/v1/integrations/{id}/health?from&to.
			{Name: "by_team_integration_checked", Fields: []readmodel.IndexField{f("team_id", false), f("integration_id", false), f("checked_at", false)}},
		}},
		{Name: WizardSessionsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_started", Fields: []readmodel.IndexField{f("team_id", false), f("started_at", true)}},
			// The wizard expiry scheduler: open sessions past expires_at, any team.
			{Name: "by_status_expires", Fields: []readmodel.IndexField{f("status", false), f("expires_at", false)}},
		}},
	}
}

// DocID is the _id of a team's document about id.
func DocID(team, id string) string { return team + "/" + id }

// Apply implements projections.Projection.
func (Connections) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	if team == "" {
		return nil
	}
	switch e := fold.Value(ev.Data).(type) {
	case in.IntegrationCreated:
		return applyIntegration(ctx, tx, ev, team, e.IntegrationID, func(d, cs readmodel.Doc) {
			d["name"], d["kind"], d["config"], d["event_kinds"] = e.Name, string(e.Kind), configDoc(e.Config), kindsDoc(e.EventKinds)
			d["has_secret"], d["secret_key_id"], d["status"] = !e.Secret.IsZero(), e.Secret.KeyID, "active"
			d["created_at"], d["updated_at"], d["created_by"] = e.CreatedAt, e.CreatedAt, ev.Metadata.Actor
			d["url"] = e.Config["url"]
			cs["state"], cs["kind"], cs["status"], cs["url"] = "unchecked", string(e.Kind), "active", e.Config["url"]
		})
	case in.IntegrationChanged:
		return applyIntegration(ctx, tx, ev, team, e.IntegrationID, func(d, cs readmodel.Doc) {
			d["name"], d["config"], d["event_kinds"], d["updated_at"], d["url"] = e.Name, configDoc(e.Config), kindsDoc(e.EventKinds), e.ChangedAt, e.Config["url"]
			if !e.Secret.IsZero() {
				d["has_secret"], d["secret_key_id"] = true, e.Secret.KeyID
			}
			cs["url"] = e.Config["url"]
		})
	case in.IntegrationRemoved:
		return applyIntegration(ctx, tx, ev, team, e.IntegrationID, func(d, cs readmodel.Doc) {
			d["status"], d["updated_at"], d["removed_at"] = "removed", e.RemovedAt, e.RemovedAt
			cs["status"] = "removed"
		})
	case in.IntegrationHealthChecked:
		cs, found, err := fold.Get(ctx, tx, ConnectionStatusCollection, DocID(team, e.IntegrationID))
		if err != nil {
			return fmt.Errorf("%s: %w", ConnectionsName, err)
		}
		if !found || fold.Num(cs, "updated_position") >= ev.Position {
			return nil
		}
		up := e.Result == in.HealthUp
		cs["updated_position"], cs["state"], cs["last_checked_at"], cs["last_latency_ms"] = ev.Position, string(e.Result), e.CheckedAt, e.LatencyMS
		cs["last_error"], cs["checks"] = e.Error, fold.Num(cs, "checks")+1
		if up {
			cs["up_checks"], cs["consecutive_failures"], cs["last_up_at"] = fold.Num(cs, "up_checks")+1, int64(0), e.CheckedAt
		} else {
			cs["consecutive_failures"] = fold.Num(cs, "consecutive_failures") + 1
		}
		tx.Put(ConnectionStatusCollection, cs)
		tx.Put(HealthChecksCollection, readmodel.Doc{"_id": DocID(team, e.IntegrationID) + "/" + pad(ev.Position), "team_id": team,
			"integration_id": e.IntegrationID, "checked_at": e.CheckedAt, "result": string(e.Result), "latency_ms": e.LatencyMS,
			"error": e.Error, "method": e.Method})
	case in.WizardStarted:
		return applyWizard(ctx, tx, ev, team, e.WizardID, func(d readmodel.Doc) {
			d["kind"], d["steps"], d["status"], d["started_at"], d["expires_at"], d["updated_at"] = string(e.Kind), strs(e.Steps), "open", e.StartedAt, e.ExpiresAt, e.StartedAt
			d["data"], d["started_by"] = map[string]any{}, ev.Metadata.Actor
		})
	case in.WizardStepSaved:
		return applyWizard(ctx, tx, ev, team, e.WizardID, func(d readmodel.Doc) {
			data := fold.Obj(d, "data")
			if data == nil {
				data = map[string]any{}
			}
			data[e.Step] = configDoc(e.Data)
			d["data"], d["expires_at"], d["updated_at"] = data, e.ExpiresAt, e.SavedAt
		})
	case in.WizardCompleted:
		return applyWizard(ctx, tx, ev, team, e.WizardID, func(d readmodel.Doc) {
			d["status"], d["integration_id"], d["updated_at"], d["ended_at"] = "completed", e.IntegrationID, e.CompletedAt, e.CompletedAt
		})
	case in.WizardExpired:
		return applyWizard(ctx, tx, ev, team, e.WizardID, func(d readmodel.Doc) {
			d["status"], d["updated_at"], d["ended_at"] = "expired", e.ExpiredAt, e.ExpiredAt
		})
	}
	return nil
}

func applyIntegration(ctx context.Context, tx projections.Tx, ev projections.Event, team, id string, set func(d, cs readmodel.Doc)) error {
	if id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, IntegrationsCollection, DocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", ConnectionsName, err)
	}
	if found && fold.Num(d, "updated_position") >= ev.Position {
		return nil
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "integration_id": id}
	}
	cs, csFound, err := fold.Get(ctx, tx, ConnectionStatusCollection, DocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", ConnectionsName, err)
	}
	if !csFound {
		cs = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "integration_id": id, "checks": int64(0), "up_checks": int64(0),
			"consecutive_failures": int64(0), "last_checked_at": nil, "last_latency_ms": nil, "last_error": "", "last_up_at": nil}
	}
	d["updated_position"] = ev.Position
	set(d, cs)
	tx.Put(IntegrationsCollection, d)
	tx.Put(ConnectionStatusCollection, cs)
	return nil
}

func applyWizard(ctx context.Context, tx projections.Tx, ev projections.Event, team, id string, set func(d readmodel.Doc)) error {
	if id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, WizardSessionsCollection, DocID(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", ConnectionsName, err)
	}
	if found && fold.Num(d, "updated_position") >= ev.Position {
		return nil
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "wizard_id": id, "integration_id": ""}
	}
	d["updated_position"] = ev.Position
	set(d)
	tx.Put(WizardSessionsCollection, d)
	return nil
}

func configDoc(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func kindsDoc(ks []in.EventKind) []any {
	out := make([]any, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func pad(n int64) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < 20 {
		s = "0" + s
	}
	return s
}
