package assessments_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ai "github.com/cspm-es/cspm-es/domain/aigovernance"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/bia"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	pa "github.com/cspm-es/cspm-es/projections/assessments"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// mappedScan is a scan whose checks map to CIS-5.0 (as Prowler reports do).
func mappedScan(name string, hour int, r csdomain.Result) []pt.EventData {
	evs := scan(name, hour, r, r)
	d := evs[0].(csdomain.ChecksDescribed)
	for i := range d.Checks {
		d.Checks[i].Compliance = map[string][]string{"CIS-5.0": {"3." + d.Checks[i].CheckID[:1]}}
	}
	evs[0] = d
	return evs
}

func indexStreams(t *testing.T, parts ...[]pt.EventData) [][]projectionsEvent {
	var out [][]projectionsEvent
	pos := int64(1)
	for _, p := range parts {
		ps := make([]int64, len(p))
		for i := range ps {
			ps[i] = pos
			pos++
		}
		out = append(out, pt.Stream(team, ps, p...))
	}
	return pt.OnlyStreams(pa.NewIndex(), out)
}

func TestIndex_UnifiedView(t *testing.T) {
	cat := csfLoaded(t)
	asm := []pt.EventData{created("as-1", csfRef, asOf, cat.Requirements),
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.At(time.Hour)}}
	ss := indexStreams(t, asm, mappedScan("scan-1", 1, csdomain.ResultFail), mappedScan("scan-2", 3, csdomain.ResultPass))
	tx := pt.Apply(t, pa.NewIndex(), concat(ss)...)
	a := tx.Doc(t, pa.IndexCollection, "assessment/as-1")
	require.Equal(t, "assessment", a["kind"])
	require.Equal(t, int64(3), a["progress"], "1 of 27 answered")
	require.Equal(t, "open", a["status"])
	var compliance []map[string]any
	for _, d := range tx.Colls[pa.IndexCollection] {
		if d["kind"] == pa.KindCloudCompliance {
			compliance = append(compliance, d)
		}
	}
	require.Len(t, compliance, 1, "one account, one framework")
	require.Equal(t, "CIS-5.0", compliance[0]["framework"])
	require.Equal(t, 1.0, compliance[0]["score"], "the latest scan (scan 2) passes")
	pt.AssertOrderIndependent(t, pa.NewIndex(), ss)
}

func TestAssessments_ReadModel(t *testing.T) {
	cat := csfLoaded(t)
	evs := []pt.EventData{cat, created("as-1", csfRef, asOf, cat.Requirements),
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.NonCompliant, Comment: "no validation", AnsweredAt: pt.At(time.Hour)},
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.At(2 * time.Hour)}}
	ps := []int64{1, 2, 3, 4}
	tx := pt.Apply(t, pa.NewAssessments(), pt.Stream(team, ps, evs...)...)
	f := tx.Doc(t, pa.FrameworksCollection, csfID)
	require.Equal(t, "c1", f["latest_version"])
	require.Equal(t, int64(27), f["assessable"])
	d := tx.Doc(t, pa.AssessmentsCollection, "as-1")
	require.Equal(t, int64(1), d["answered"])
	require.Equal(t, int64(27), d["requirements"])
	ans := tx.Doc(t, pa.AnswersCollection, "as-1")
	var p as.Progress
	require.NoError(t, json.Unmarshal([]byte(ans["progress"].(string)), &p))
	require.Equal(t, 1, p.ByStatus[as.Compliant])
	require.Equal(t, 0, p.ByStatus[as.NonCompliant], "the later answer replaced it")
	require.Len(t, p.Sections, 4)
}

// A model's EU AI Act classification is an entry of the unified view,
// its latest class in force.
func TestIndex_AIRiskClassification(t *testing.T) {
	evs := pt.Stream(team, []int64{1, 2},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.Limited, Rationale: "chat", ClassifiedAt: pt.T0},
		ai.ModelRiskClassified{ModelID: "m1", RiskClass: ai.HighRisk, PreviousClass: ai.Limited, Rationale: "Annex III", ClassifiedAt: pt.At(time.Hour)})
	tx := pt.Apply(t, pa.NewIndex(), evs...)
	d := tx.Doc(t, pa.IndexCollection, "ai_risk_classification/m1")
	require.Equal(t, "high", d["status"])
	require.Equal(t, "aigovernance", d["module"])
	require.Equal(t, []any{"m1"}, d["scope"])
}

// A business impact analysis is an entry of the unified view: its title,
// its status through review and approval, its progress (complete
// processes) and due date, as its events say; other teams' BIAs are theirs.
func TestIndex_BIA(t *testing.T) {
	due := pt.At(30 * 24 * time.Hour)
	details := bia.Details{Title: "Payments BIA", Owner: "ops", DueDate: due}
	cases := []struct {
		name          string
		when          []pt.EventData
		title, status string
		progress      int64
	}{
		{"created as a draft", []pt.EventData{bia.BIACreated{BIAID: "b1", Details: details, Status: bia.StatusDraft, CreatedAt: pt.T0}},
			"Payments BIA", "draft", 0},
		{"a process half done", []pt.EventData{bia.BIACreated{BIAID: "b1", Details: details, Status: bia.StatusDraft, CreatedAt: pt.T0},
			bia.BusinessProcessAdded{BIAID: "b1", Progress: bia.Progress{Processes: 2, Complete: 1, Percent: 50}, AddedAt: pt.At(time.Hour)}},
			"Payments BIA", "draft", 50},
		{"renamed, submitted, approved", []pt.EventData{bia.BIACreated{BIAID: "b1", Details: details, Status: bia.StatusDraft, CreatedAt: pt.T0},
			bia.BIADetailsChanged{BIAID: "b1", Details: bia.Details{Title: "Payments BIA 2027", Owner: "ops", DueDate: due}, ChangedAt: pt.At(time.Hour)},
			bia.BIASubmittedForReview{BIAID: "b1", Revision: 2, Progress: bia.Progress{Processes: 1, Complete: 1, Percent: 100}, SubmittedAt: pt.At(2 * time.Hour)},
			bia.BIAApproved{BIAID: "b1", Revision: 2, ApprovedBy: "key:admin", ApprovedAt: pt.At(3 * time.Hour)}},
			"Payments BIA 2027", "approved", 100},
		{"reopened after approval", []pt.EventData{bia.BIACreated{BIAID: "b1", Details: details, Status: bia.StatusDraft, CreatedAt: pt.T0},
			bia.BIASubmittedForReview{BIAID: "b1", Revision: 1, SubmittedAt: pt.At(time.Hour)},
			bia.BIAApproved{BIAID: "b1", Revision: 1, ApprovedAt: pt.At(2 * time.Hour)},
			bia.BIAReopened{BIAID: "b1", From: bia.StatusApproved, Reason: "new supplier", ReopenedAt: pt.At(3 * time.Hour)}},
			"Payments BIA", "draft", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := make([]int64, len(c.when))
			for i := range ps {
				ps[i] = int64(i + 1)
			}
			tx := pt.Apply(t, pa.NewIndex(), pt.Stream(team, ps, c.when...)...)
			d := tx.Doc(t, pa.IndexCollection, "bia/b1")
			require.Equal(t, pa.KindBIA, d["kind"])
			require.Equal(t, "bia", d["module"])
			require.Equal(t, team, d["team_id"])
			require.Equal(t, c.title, d["title"])
			require.Equal(t, c.status, d["status"])
			require.Equal(t, c.progress, d["progress"])
			require.NotNil(t, d["due_date"])
		})
	}
}
