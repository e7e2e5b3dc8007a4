package api_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	incmd "github.com/cspm-es/cspm-es/commands/integrations"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/secretbox"
	"github.com/cspm-es/cspm-es/queries"
	inquery "github.com/cspm-es/cspm-es/queries/integrations"
)

// fakeIntegrations serves the integration routes: one webhook of team-a
// ("int-1", with a delivery and two checks), one open wizard ("wiz-1");
// anything else is 404.
type fakeIntegrations struct{}

func fakeIntegrationResult(id, stream string) commands.Result {
	return commands.Result{ID: id, StreamID: stream, Version: 1, Position: 42, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e51"}}
}

func fakeOwn(team, id, want string) error {
	if team != "team-a" || id != want {
		return queries.NotFound("resource", id)
	}
	return nil
}

func (fakeIntegrations) CreateIntegration(_ context.Context, _ commands.Meta, cmd incmd.CreateIntegration) (commands.Result, error) {
	if cmd.Name == "" {
		var v domain.Validator
		v.Add("name", "is required")
		return commands.Result{}, v.Err()
	}
	return fakeIntegrationResult("int-1", "integration-int-1"), nil
}

func (fakeIntegrations) ChangeIntegration(_ context.Context, m commands.Meta, cmd incmd.ChangeIntegration) (commands.Result, error) {
	if err := fakeOwn(m.TeamID, cmd.IntegrationID, "int-1"); err != nil {
		return commands.Result{}, err
	}
	return fakeIntegrationResult("int-1", "integration-int-1"), nil
}

func (fakeIntegrations) RemoveIntegration(_ context.Context, m commands.Meta, cmd incmd.RemoveIntegration) (commands.Result, error) {
	if err := fakeOwn(m.TeamID, cmd.IntegrationID, "int-1"); err != nil {
		return commands.Result{}, err
	}
	return fakeIntegrationResult("int-1", "integration-int-1"), nil
}

func (fakeIntegrations) CheckIntegration(_ context.Context, m commands.Meta, cmd incmd.CheckIntegration) (commands.Result, error) {
	if err := fakeOwn(m.TeamID, cmd.IntegrationID, "int-1"); err != nil {
		return commands.Result{}, err
	}
	return fakeIntegrationResult("int-1", "integrationhealth-int-1-20260102"), nil
}

func (fakeIntegrations) StartWizard(context.Context, commands.Meta, incmd.StartWizard) (commands.Result, error) {
	return fakeIntegrationResult("wiz-1", "wizard-wiz-1"), nil
}

func (fakeIntegrations) SaveWizardStep(_ context.Context, m commands.Meta, cmd incmd.SaveWizardStep) (commands.Result, error) {
	if err := fakeOwn(m.TeamID, cmd.WizardID, "wiz-1"); err != nil {
		return commands.Result{}, err
	}
	return fakeIntegrationResult("wiz-1", "wizard-wiz-1"), nil
}

func (fakeIntegrations) CompleteWizard(_ context.Context, m commands.Meta, cmd incmd.CompleteWizard) (commands.Result, error) {
	if err := fakeOwn(m.TeamID, cmd.WizardID, "wiz-1"); err != nil {
		return commands.Result{}, err
	}
	return fakeIntegrationResult("wiz-1", "integration-wiz-1"), nil
}

var fakeIntegrationAt = time.Date(2026, 1, 2, 15, 10, 0, 0, time.UTC)

func fakeIntegration() inquery.Integration {
	l := 1.8
	return inquery.Integration{ID: "int-1", Name: "pager", Kind: "webhook", Config: map[string]string{"url": "https://hooks.example.com/cspm"},
		EventKinds: []string{"scan_run_failed"}, HasSecret: true, Status: "active", CreatedAt: fakeIntegrationAt, UpdatedAt: fakeIntegrationAt,
		Connection: inquery.ConnectionStatus{State: "up", LastCheckedAt: fakeIntegrationAt, LastLatencyMS: &l, Checks: 1, UpChecks: 1, LastUpAt: fakeIntegrationAt}}
}

func (fakeIntegrations) ListIntegrations(_ context.Context, team string, _ inquery.IntegrationFilter, _ queries.Page) (inquery.IntegrationList, error) {
	if team != "team-a" {
		return inquery.IntegrationList{Items: []inquery.Integration{}}, nil
	}
	return inquery.IntegrationList{Items: []inquery.Integration{fakeIntegration()}}, nil
}

func (fakeIntegrations) GetIntegration(_ context.Context, team, id string) (inquery.Integration, error) {
	if err := fakeOwn(team, id, "int-1"); err != nil {
		return inquery.Integration{}, err
	}
	return fakeIntegration(), nil
}

func (fakeIntegrations) Health(_ context.Context, team, id string, from, to, _ time.Time, _ queries.Page) (inquery.HealthHistory, error) {
	if err := fakeOwn(team, id, "int-1"); err != nil {
		return inquery.HealthHistory{}, err
	}
	u, l := 0.5, 1.8
	return inquery.HealthHistory{IntegrationID: id, From: fakeIntegrationAt.Add(-time.Hour), To: fakeIntegrationAt.Add(time.Hour), Checks: 2, UpChecks: 1,
		Uptime: &u, LatencyP50MS: &l, LatencyP95MS: &l, LatencyMaxMS: &l, Items: []inquery.HealthCheck{
			{CheckedAt: fakeIntegrationAt, Result: "up", LatencyMS: l},
			{CheckedAt: fakeIntegrationAt.Add(time.Minute), Result: "down", LatencyMS: 5000, Error: "tcp connect: i/o timeout"}}}, nil
}

func (fakeIntegrations) ListDeliveries(_ context.Context, team, id, _ string, _ queries.Page) (inquery.DeliveryList, error) {
	if err := fakeOwn(team, id, "int-1"); err != nil {
		return inquery.DeliveryList{}, err
	}
	return inquery.DeliveryList{Items: []inquery.Delivery{{ID: "whd-1", EventKind: "scan_run_failed", EventRef: "ev-1", Position: 60, Status: "delivered",
		Attempts: 2, CreatedAt: fakeIntegrationAt, LastAttemptAt: fakeIntegrationAt, LastStatusCode: 204, DeliveredAt: fakeIntegrationAt,
		Payload: []byte(`{"api_version":"cspm.webhook/v1","delivery_id":"whd-1","event_kind":"scan_run_failed","event_id":"ev-1","event_position":60,"team_id":"team-a","occurred_at":"2026-01-02T15:10:00Z","data":{"scan_id":"s"},"integration_id":"int-1"}`)}}}, nil
}

func (fakeIntegrations) GetWizard(_ context.Context, team, id string) (inquery.Wizard, error) {
	if err := fakeOwn(team, id, "wiz-1"); err != nil {
		return inquery.Wizard{}, err
	}
	return inquery.Wizard{ID: id, Kind: "webhook", Steps: []string{"basics", "endpoint", "events", "review"},
		Data: map[string]map[string]string{"basics": {"name": "pager"}}, NextStep: "endpoint", Status: "open",
		StartedAt: fakeIntegrationAt, UpdatedAt: fakeIntegrationAt, ExpiresAt: fakeIntegrationAt.Add(24 * time.Hour)}, nil
}

// contractIntegrations is api.IntegrationService as the process wires it,
// over the contract's store and read models, with a fixed key and a probe
// that always connects (no network in the contract).
type contractIntegrations struct {
	*incmd.Handlers
	*inquery.Service
}

type contractProber struct{}

func (contractProber) Probe(context.Context, string) error { return nil }

func contractIntegrationService(t *testing.T, kit *commands.Kit, store queries.DocReader) contractIntegrations {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	require.NoError(t, err)
	return contractIntegrations{incmd.New(kit, box, nil, contractProber{}), inquery.New(store)}
}
