package api_test

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// fakeSLA serves the SLA routes: the default policy, one breach, counts.
type fakeSLA struct{}

func (fakeSLA) SetSLAPolicy(_ context.Context, m commands.Meta, _ vulncmd.SetSLAPolicy) (commands.Result, error) {
	return commands.Result{ID: m.TeamID, StreamID: vulncmd.SLAPolicyStreamID(m.TeamID), Version: 1, Position: 42,
		EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e41"}}, nil
}

func (fakeSLA) GetPolicy(context.Context, string) (vulnquery.SLAPolicyView, error) {
	return vulnquery.SLAPolicyView{Policy: vuln.DefaultSLAPolicy(), Default: true}, nil
}

func (fakeSLA) ListBreaches(context.Context, string, vulnquery.BreachFilter, queries.Page) (vulnquery.BreachList, error) {
	at := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	return vulnquery.BreachList{AsOf: at.AddDate(0, 1, 0), Items: []vulnquery.Breach{{ID: "occ-1", Module: vuln.SLAModuleVulnerabilities,
		VulnerabilityID: "CVE-2024-3094", ArtifactID: "art-1", PackageName: "xz-libs", InstalledVersion: "5.6.0-r0", Severity: "low",
		KEV: true, FirstSeen: at, DueAt: at.AddDate(0, 0, 5), DueSource: "kev", OverdueDays: 26}}}, nil
}

func (fakeSLA) Summary(context.Context, string) (vulnquery.SLASummary, error) {
	c := vulnquery.SLACounts{Open: 3, Breached: 1, DueIn7Days: 1, Met: 2, Missed: 1}
	return vulnquery.SLASummary{AsOf: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Total: c,
		ByModule: map[string]vulnquery.SLACounts{"vulnerabilities": c}, BySeverity: map[string]vulnquery.SLACounts{"high": c}}, nil
}

// slaService is api.SLAService as the process wires it.
type slaService struct {
	*vulncmd.SLAHandlers
	*vulnquery.SLAService
}
