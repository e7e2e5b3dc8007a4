package api_test

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/queries"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// fakeRisk serves the risk routes: every command accepted, one risk, one
// KRI, one acceptance.
type fakeRisk struct{}

var fakeRiskAt = time.Date(2026, 1, 2, 15, 10, 0, 0, time.UTC)

func riskResult(m commands.Meta, stream string) (commands.Result, error) {
	return commands.Result{ID: "r1", StreamID: stream, Version: 1, Position: 42, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e41"}}, nil
}

func (fakeRisk) DefineMatrix(_ context.Context, m commands.Meta, _ riskcmd.DefineMatrix) (commands.Result, error) {
	return riskResult(m, riskcmd.MatrixStreamID(m.TeamID))
}
func (fakeRisk) IdentifyRisk(_ context.Context, m commands.Meta, _ riskcmd.IdentifyRisk) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) DescribeRisk(_ context.Context, m commands.Meta, _ riskcmd.DescribeRisk) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) ScoreRisk(_ context.Context, m commands.Meta, _ riskcmd.ScoreRisk) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) CloseRisk(_ context.Context, m commands.Meta, _ riskcmd.CloseRisk) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) PlanTreatment(_ context.Context, m commands.Meta, _ riskcmd.PlanTreatment) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) UpdateTreatmentTask(_ context.Context, m commands.Meta, _ riskcmd.UpdateTreatmentTask) (commands.Result, error) {
	return riskResult(m, "risk-r1")
}
func (fakeRisk) DefineKRI(_ context.Context, m commands.Meta, _ riskcmd.DefineKRI) (commands.Result, error) {
	return riskResult(m, "kri-r1")
}
func (fakeRisk) RedefineKRI(_ context.Context, m commands.Meta, _ riskcmd.RedefineKRI) (commands.Result, error) {
	return riskResult(m, "kri-r1")
}
func (fakeRisk) MeasureKRI(_ context.Context, m commands.Meta, _ riskcmd.MeasureKRI) (commands.Result, error) {
	return riskResult(m, "kri-r1")
}
func (fakeRisk) RetireKRI(_ context.Context, m commands.Meta, _ riskcmd.RetireKRI) (commands.Result, error) {
	return riskResult(m, "kri-r1")
}
func (fakeRisk) AcceptRisk(_ context.Context, m commands.Meta, _ riskcmd.AcceptRisk) (commands.Result, error) {
	return riskResult(m, "riskacceptance-r1")
}
func (fakeRisk) RevokeAcceptance(_ context.Context, m commands.Meta, _ riskcmd.RevokeAcceptance) (commands.Result, error) {
	return riskResult(m, "riskacceptance-r1")
}

func (fakeRisk) GetMatrix(context.Context, string) (riskquery.Matrix, error) {
	return riskquery.Matrix{Current: rdomain.DefaultMatrix(), Versions: []riskquery.MatrixVersion{{Matrix: rdomain.DefaultMatrix()}}}, nil
}

func fakeRiskItem() riskquery.Risk {
	return riskquery.Risk{ID: "r1", Title: "leak", Owner: "alice", Status: "open", Level: "high", LevelRank: 3,
		Scores: map[string]riskquery.Score{"current": {Likelihood: "likely", Impact: "moderate", Level: "high", LevelRank: 3, ScoredAt: fakeRiskAt}},
		Plans:  []riskquery.Plan{}, IdentifiedAt: fakeRiskAt, UpdatedAt: fakeRiskAt}
}

func (fakeRisk) ListRisks(context.Context, string, riskquery.RiskFilter, queries.Page) (riskquery.RiskList, error) {
	return riskquery.RiskList{Items: []riskquery.Risk{fakeRiskItem()}}, nil
}
func (fakeRisk) GetRisk(context.Context, string, string) (riskquery.Risk, error) {
	return fakeRiskItem(), nil
}

func fakeKRI() riskquery.KRI {
	return riskquery.KRI{ID: "k1", Name: "n", Unit: "u", Direction: rdomain.HigherIsWorse, Amber: 1, Red: 2, Source: rdomain.SourceManual,
		Status: "active", DefinedAt: fakeRiskAt, Definitions: []riskquery.Definition{{From: fakeRiskAt, Direction: rdomain.HigherIsWorse, Amber: 1, Red: 2}}}
}

func (fakeRisk) ListKRIs(context.Context, string, queries.Page) (riskquery.KRIList, error) {
	return riskquery.KRIList{Items: []riskquery.KRI{fakeKRI()}}, nil
}
func (fakeRisk) GetKRI(context.Context, string, string) (riskquery.KRI, error) { return fakeKRI(), nil }
func (fakeRisk) KRISeries(context.Context, string, string, riskquery.SeriesQuery) (riskquery.Series, error) {
	return riskquery.Series{KRI: fakeKRI(), From: fakeRiskAt, To: fakeRiskAt.AddDate(0, 0, 1), Granularity: "day",
		Buckets: []riskquery.Bucket{{Start: fakeRiskAt, End: fakeRiskAt.AddDate(0, 0, 1)}}}, nil
}

func fakeAcceptance() riskquery.Acceptance {
	return riskquery.Acceptance{ID: "a1", Scope: rdomain.Scope{FindingIDs: []string{"f1"}}, Reason: "r", Approver: "c",
		AcceptedAt: fakeRiskAt, ExpiresAt: fakeRiskAt.AddDate(0, 1, 0), Status: "active"}
}

func (fakeRisk) ListAcceptances(context.Context, string, riskquery.AcceptanceFilter, queries.Page) (riskquery.AcceptanceList, error) {
	return riskquery.AcceptanceList{Items: []riskquery.Acceptance{fakeAcceptance()}}, nil
}
func (fakeRisk) GetAcceptance(context.Context, string, string) (riskquery.Acceptance, error) {
	return fakeAcceptance(), nil
}

// riskService is api.RiskService as the process wires it.
type riskService struct {
	*riskcmd.Handlers
	*riskquery.Service
}
