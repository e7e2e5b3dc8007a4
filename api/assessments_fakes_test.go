package api_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/commands"
	acmd "github.com/cspm-es/cspm-es/commands/assessments"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/queries"
	aquery "github.com/cspm-es/cspm-es/queries/assessments"
)

// fakeAssessments serves the assessments routes: one framework, one
// assessment ("as-1") of team-a, its answers, progress and evidence.
type fakeAssessments struct{}

var fakeAt = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func fakeResult(id string) commands.Result {
	return commands.Result{ID: id, StreamID: "assessment-" + id, Version: 2, Position: 42, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e51"}}
}

func (fakeAssessments) LoadCatalog(_ context.Context, _ commands.Meta, cmd acmd.LoadCatalog) (acmd.CatalogLoadResult, error) {
	b, _ := io.ReadAll(cmd.Body)
	if len(b) < 3 {
		var v domain.Validator
		v.Add("file", "not a catalogue")
		return acmd.CatalogLoadResult{}, v.Err()
	}
	return acmd.CatalogLoadResult{ContentHash: "sha256:ab", Position: 42, Framework: &acmd.LoadedVersion{Framework: "nist-csf-2.0-aws",
		Version: "c-0123456789ab", Name: "NIST CSF 2.0", Source: as.SourceProwler, Status: acmd.Loaded, Requirements: 27, Assessable: 27, Position: 42}}, nil
}

func (fakeAssessments) CreateAssessment(_ context.Context, _ commands.Meta, cmd acmd.CreateAssessment) (commands.Result, error) {
	if cmd.Framework == "nope" {
		var v domain.Validator
		v.Add("framework", "not loaded")
		return commands.Result{}, v.Err()
	}
	return fakeResult("as-2"), nil
}

func teamA(ctx context.Context, id string) error {
	if id != "as-1" {
		return queries.NotFound("assessment", id)
	}
	return nil
}

func (fakeAssessments) AnswerRequirement(_ context.Context, m commands.Meta, cmd acmd.AnswerRequirement) (commands.Result, error) {
	if m.TeamID != "team-a" || cmd.AssessmentID != "as-1" {
		return commands.Result{}, domain.ErrNotFound
	}
	return fakeResult(cmd.AssessmentID), nil
}

func (fakeAssessments) RescheduleAssessment(_ context.Context, m commands.Meta, cmd acmd.RescheduleAssessment) (commands.Result, error) {
	if m.TeamID != "team-a" || cmd.AssessmentID != "as-1" {
		return commands.Result{}, domain.ErrNotFound
	}
	return fakeResult(cmd.AssessmentID), nil
}

func (fakeAssessments) CloseAssessment(_ context.Context, m commands.Meta, cmd acmd.CloseAssessment) (commands.Result, error) {
	switch {
	case m.TeamID != "team-a":
		return commands.Result{}, domain.ErrNotFound
	case cmd.AssessmentID == "as-1":
		return fakeResult(cmd.AssessmentID), nil
	case cmd.AssessmentID == "as-incomplete":
		return commands.Result{}, domain.Rule(as.CodeAssessmentIncomplete, "26 of 27 requirements have no answer")
	}
	return commands.Result{}, domain.ErrNotFound
}

func (fakeAssessments) ListFrameworks(context.Context, queries.Page) (aquery.FrameworkList, error) {
	return aquery.FrameworkList{Items: []aquery.Framework{{ID: "nist-csf-2.0-aws", Name: "NIST CSF 2.0", Source: as.SourceProwler,
		LatestVersion: "c-0123456789ab", Versions: 1, Requirements: 27, Assessable: 27, LoadedAt: fakeAt}}}, nil
}

func (fakeAssessments) FrameworkVersions(_ context.Context, framework string, _ bool, _ queries.Page) (aquery.VersionList, error) {
	if framework != "nist-csf-2.0-aws" {
		return aquery.VersionList{}, queries.NotFound("framework", framework)
	}
	return aquery.VersionList{Items: []aquery.FrameworkVersion{{Framework: framework, Version: "c-0123456789ab", Name: "NIST CSF 2.0",
		Source: as.SourceProwler, ContentHash: "sha256:ab", Requirements: 27, Assessable: 27, LoadedAt: fakeAt}}}, nil
}

func fakeAssessment() aquery.Assessment {
	return aquery.Assessment{ID: "as-1", Name: "Q1", Framework: as.FrameworkRef{Framework: "nist-csf-2.0-aws", Version: "c-0123456789ab"},
		Scope: as.Scope{Accounts: []string{"111122223333"}}, Assignees: []string{}, AsOf: fakeAt, Status: as.StatusOpen,
		Requirements: 27, Answered: 1, Percent: 3, CreatedAt: fakeAt, UpdatedAt: fakeAt}
}

func (fakeAssessments) ListAssessments(_ context.Context, team, status string, _ queries.Page) (aquery.AssessmentList, error) {
	if status != "" && status != as.StatusOpen && status != as.StatusClosed {
		var v domain.Validator
		v.Add("status", "not one of open, closed")
		return aquery.AssessmentList{}, v.Err()
	}
	if team != "team-a" {
		return aquery.AssessmentList{}, nil
	}
	return aquery.AssessmentList{Items: []aquery.Assessment{fakeAssessment()}}, nil
}

func fakeProgressOf() as.Progress {
	return as.ComputeProgress([]as.AssessedRequirement{{ID: "ds_6", Section: "Protect (PR)"}, {ID: "oc_1", Section: "Govern (GV)"}},
		map[string]as.Answer{"ds_6": {Status: as.Compliant, AnsweredAt: fakeAt}})
}

func (fakeAssessments) GetAssessment(ctx context.Context, team, id string) (aquery.AssessmentDetail, error) {
	if team != "team-a" || teamA(ctx, id) != nil {
		return aquery.AssessmentDetail{}, queries.NotFound("assessment", id)
	}
	return aquery.AssessmentDetail{Assessment: fakeAssessment(), Progress: fakeProgressOf(), Answers: []aquery.RequirementAnswer{
		{RequirementID: "ds_6", Section: "Protect (PR)", Answer: &as.Answer{Status: as.Compliant, AnsweredAt: fakeAt}},
		{RequirementID: "oc_1", Section: "Govern (GV)"}}}, nil
}

func (fakeAssessments) Progress(ctx context.Context, team, id string) (as.Progress, error) {
	if team != "team-a" || teamA(ctx, id) != nil {
		return as.Progress{}, queries.NotFound("assessment", id)
	}
	return fakeProgressOf(), nil
}

func (fakeAssessments) Evidence(ctx context.Context, team, id string) (as.EvidenceView, error) {
	if team != "team-a" || teamA(ctx, id) != nil {
		return as.EvidenceView{}, queries.NotFound("assessment", id)
	}
	ce := as.CheckEvidence{Account: "111122223333", Check: "cloudtrail_log_file_validation_enabled", Status: "fail", ImportID: "imp-1",
		ScanID: "scan-1", EvaluatedAt: fakeAt, Fail: 1, FailingCount: 1, Findings: []string{"f-1"}}
	return as.EvidenceView{AssessmentID: id, Framework: as.FrameworkRef{Framework: "nist-csf-2.0-aws", Version: "c-0123456789ab"},
		AsOf: fakeAt, Accounts: []string{"111122223333"}, Catalogue: true, Revision: 1, RevisedAt: &fakeAt,
		Counts:  as.EvidenceCounts{Requirements: 1, Fail: 1},
		Sources: []as.EvidenceSource{{ImportID: "imp-1", ScanID: "scan-1", EvaluatedAt: fakeAt, Position: 40, RecordedAt: fakeAt, Selected: true}},
		Checks:  []as.CheckEvidence{ce},
		Requirements: []as.RequirementEvidence{{ID: "ds_6", Label: "PR.DS-6", Status: "fail", Checks: []string{ce.Check}, Evaluated: 1, Fail: 1,
			Failing: []as.CheckEvidence{ce}}}}, nil
}

func (fakeAssessments) AllAssessments(_ context.Context, team, _ string, _ queries.Page) (aquery.IndexList, error) {
	if team != "team-a" {
		return aquery.IndexList{}, nil
	}
	pct := int64(3)
	return aquery.IndexList{Items: []aquery.IndexEntry{{ID: "assessment/as-1", Kind: "assessment", Module: "assessments", SourceID: "as-1",
		Title: "Q1", Framework: "nist-csf-2.0-aws", Status: "open", Scope: []string{"111122223333"}, Progress: &pct, AsOf: &fakeAt, UpdatedAt: fakeAt}}}, nil
}

// assessmentsContract: catalogues loaded by an admin (an analyst's is
// 403) and read by any team; the team's assessment read, answered and
// its evidence; another team's is 404.
func assessmentsContract(t *testing.T, c *contract) {
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	body := exampleBody(t, c.doc, "loadCatalog")
	c.send(t, request{Path: "/api/v1/catalogs", Body: body, Header: analyst}, 403, docValid)
	c.send(t, request{Path: "/api/v1/catalogs?version=2025", Body: body}, 201, docValid)
	c.send(t, request{Path: "/api/v1/catalogs", Body: "{}"}, 400, docEither)
	c.get(t, "/api/v1/catalogs", 200, docValid, "Authorization", viewerB["Authorization"])
	c.get(t, "/api/v1/frameworks/nist-csf-2.0-aws/versions?requirements=true", 200, docValid)
	c.get(t, "/api/v1/frameworks/nope/versions", 404, docValid)

	c.send(t, request{Path: "/api/v1/assessments", Body: exampleBody(t, c.doc, "createAssessment"), Header: analyst}, 201, docValid)
	bad := c.send(t, request{Path: "/api/v1/assessments", Body: `{"name": "x", "framework": "nope"}`, Header: analyst}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"framework"`)
	c.get(t, "/api/v1/assessments?status=open", 200, docValid, "Authorization", viewer["Authorization"])
	c.get(t, "/api/v1/assessments?status=nope", 400, docInvalid)
	c.get(t, "/api/v1/assessments/all?kind=assessment", 200, docValid)
	c.get(t, "/api/v1/assessments/as-1", 200, docValid)
	c.get(t, "/api/v1/assessments/as-1", 404, docValid, "Authorization", viewerB["Authorization"])
	c.get(t, "/api/v1/assessments/as-1/answers", 200, docValid)
	c.get(t, "/api/v1/assessments/as-1/progress", 200, docValid)
	ev := c.get(t, "/api/v1/assessments/as-1/evidence", 200, docValid)
	assert.Contains(t, string(ev.Data), `"revision":1`)
	c.send(t, request{Path: "/api/v1/assessments/as-1/answers", Body: exampleBody(t, c.doc, "answerRequirement"), Header: analyst}, 202, docValid)
	c.send(t, request{Method: "PATCH", Path: "/api/v1/assessments/as-1", Body: exampleBody(t, c.doc, "rescheduleAssessment"), Header: analyst}, 202, docValid)
	c.send(t, request{Path: "/api/v1/assessments/as-1/close", Header: analyst}, 202, docValid)
	res := c.send(t, request{Path: "/api/v1/assessments/as-incomplete/close", Header: analyst}, 422, docValid)
	assert.Equal(t, "ASSESSMENT_INCOMPLETE", res.Env.Error.Code)
}
