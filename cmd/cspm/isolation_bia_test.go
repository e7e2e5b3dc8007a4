package main

import (
	"net/http"
	"testing"

	"github.com/cspm-es/cspm-es/api"
)

// isolationBIAWorld gives team A business impact analyses in each status
// (draft, in review, approved, reopened) with processes, and exercises
// planned, run with a lesson, and cancelled. It returns the BIAs' ids,
// the exercises' ids and what else of them team B must never see.
func isolationBIAWorld(t *testing.T, a *testApp, asA []string) (bias, exercises, secrets []string) {
	t.Helper()
	process := map[string]any{"process_id": "iso-a-payroll", "name": "iso-a-payroll-name", "owner": "iso-a-owner", "criticality": "high",
		"rto": "4h", "rpo": "1h", "mtd": "1d", "impacts": []map[string]any{{"category": "financial", "after": "4h", "level": "high"}},
		"assets": []string{"iso-a-asset"}, "suppliers": []map[string]any{{"name": "iso-a-supplier"}}}
	for i, status := range []string{"draft", "in_review", "approved", "reopened"} {
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/bias", map[string]any{"title": "iso-a-bia-" + status, "owner": "iso-a-owner"}, asA...), http.StatusCreated).data(t, &res)
		path := "/api/v1/bias/" + res.ID
		must(t, a.call(t, http.MethodPost, path+"/processes", process, asA...), http.StatusCreated)
		if i >= 1 {
			must(t, a.call(t, http.MethodPost, path+"/submit", nil, asA...), http.StatusAccepted)
		}
		if i >= 2 {
			must(t, a.call(t, http.MethodPost, path+"/approve", nil, asA...), http.StatusAccepted)
		}
		if i >= 3 {
			must(t, a.call(t, http.MethodPost, path+"/reopen", map[string]any{"reason": "iso-a-reason"}, asA...), http.StatusAccepted)
		}
		bias, secrets = append(bias, res.ID), append(secrets, "iso-a-bia-"+status)
	}
	plan := map[string]any{"title": "iso-a-exercise", "scenario": "iso-a-scenario", "owner": "iso-a-owner",
		"planned_for": "2026-01-01T00:00:00Z", "process_ids": []string{"iso-a-payroll"}}
	for i := range 3 {
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/bias/"+bias[2]+"/exercises", plan, asA...), http.StatusCreated).data(t, &res)
		path := "/api/v1/bia-exercises/" + res.ID
		switch i {
		case 1:
			must(t, a.call(t, http.MethodPost, path+"/run", map[string]any{"started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T05:00:00Z",
				"results": []map[string]any{{"process_id": "iso-a-payroll", "recovery": "5h"}}}, asA...), http.StatusAccepted)
			must(t, a.call(t, http.MethodPost, path+"/lessons", map[string]any{"lesson_id": "iso-a-lesson", "title": "iso-a-lesson-title", "owner": "iso-a-owner"}, asA...), http.StatusCreated)
		case 2:
			must(t, a.call(t, http.MethodPost, path+"/cancel", map[string]any{"reason": "iso-a-reason"}, asA...), http.StatusAccepted)
		}
		exercises = append(exercises, res.ID)
	}
	secrets = append(secrets, "iso-a-payroll", "iso-a-owner", "iso-a-asset", "iso-a-supplier", "iso-a-exercise", "iso-a-scenario", "iso-a-lesson")
	return bias, exercises, append(secrets, append(bias, exercises...)...)
}

// biaIsolationBodies are valid bodies of the BIA routes, by operation id,
// for team B.
var biaIsolationBodies = map[string]any{
	"createBIA":        map[string]any{"title": "team b bia", "owner": "b"},
	"updateBIA":        map[string]any{"title": "team b bia", "owner": "b"},
	"addBIAProcess":    map[string]any{"name": "b process", "owner": "b", "criticality": "low"},
	"changeBIAProcess": map[string]any{"name": "b process", "owner": "b", "criticality": "low"},
	"reopenBIA":        map[string]any{"reason": "b"},
	"planBIAExercise": map[string]any{"title": "b", "scenario": "b", "owner": "b", "planned_for": "2026-01-01T00:00:00Z",
		"process_ids": []string{"iso-a-payroll"}},
	"recordBIAExerciseRun": map[string]any{"started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T01:00:00Z",
		"results": []map[string]any{{"process_id": "iso-a-payroll", "recovery": "1h"}}},
	"cancelBIAExercise": map[string]any{"reason": "b"},
	"recordBIALesson":   map[string]any{"title": "b", "owner": "b"},
	"updateBIALesson":   map[string]any{"status": "done"},
}

// biaChosenIDs: no BIA route creates a stream under an id the caller
// chooses (BIA and exercise ids are generated; process and lesson ids are
// inside the caller's own stream).
var biaChosenIDs = []string{"createBIA", "updateBIA", "addBIAProcess", "changeBIAProcess", "removeBIAProcess", "submitBIA", "approveBIA",
	"reopenBIA", "planBIAExercise", "recordBIAExerciseRun", "cancelBIAExercise", "recordBIALesson", "updateBIALesson"}
