package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/api"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// isolationRiskWorld gives team A a risk matrix, risks (open with a plan,
// closed), KRIs (measured, retired) and risk acceptances (active,
// revoked). It returns the ids by route prefix, their streams, and what
// team B must never see.
func isolationRiskWorld(t *testing.T, a *testApp, asA []string) (risks, kris, acceptances, streams, secrets []string) {
	t.Helper()
	id := func(ans *answer) string {
		var res api.CommandResult
		ans.data(t, &res)
		return res.ID
	}
	must(t, a.call(t, http.MethodPut, "/api/v1/risk-matrix", map[string]any{"name": "iso-matrix-a", "likelihood": []string{"lo", "hi"},
		"impact": []string{"lo", "hi"}, "levels": []string{"ok", "bad"}, "cells": [][]string{{"ok", "bad"}, {"bad", "bad"}}}, asA...), http.StatusAccepted)
	open := id(must(t, a.call(t, http.MethodPost, "/api/v1/risks", map[string]any{"title": "iso-risk-open", "owner": "iso-owner-a",
		"links": map[string]any{"assets": []string{"iso-asset-a"}}, "inherent": map[string]any{"likelihood": "hi", "impact": "hi"}}, asA...), http.StatusCreated))
	must(t, a.call(t, http.MethodPost, "/api/v1/risks/"+open+"/treatment-plans", map[string]any{"strategy": "mitigate", "owner": "iso-owner-a",
		"due_date": time.Now().AddDate(0, 1, 0), "tasks": []map[string]any{{"title": "iso-task-a"}}}, asA...), http.StatusAccepted)
	closed := id(must(t, a.call(t, http.MethodPost, "/api/v1/risks", map[string]any{"title": "iso-risk-closed", "owner": "iso-owner-a"}, asA...), http.StatusCreated))
	must(t, a.call(t, http.MethodPost, "/api/v1/risks/"+closed+"/close", map[string]any{"reason": "gone"}, asA...), http.StatusAccepted)

	kri := id(must(t, a.call(t, http.MethodPost, "/api/v1/kris", map[string]any{"name": "iso-kri-a", "unit": "u", "direction": "higher_is_worse",
		"amber": 1, "red": 2, "source": "manual"}, asA...), http.StatusCreated))
	must(t, a.call(t, http.MethodPost, "/api/v1/kris/"+kri+"/measurements", map[string]any{"value": 3}, asA...), http.StatusAccepted)
	retired := id(must(t, a.call(t, http.MethodPost, "/api/v1/kris", map[string]any{"name": "iso-kri-retired", "unit": "u", "direction": "higher_is_worse",
		"amber": 1, "red": 2, "source": "manual"}, asA...), http.StatusCreated))
	must(t, a.call(t, http.MethodDelete, "/api/v1/kris/"+retired, nil, asA...), http.StatusAccepted)

	accept := func(item string) string {
		return id(must(t, a.call(t, http.MethodPost, "/api/v1/risk-acceptances", map[string]any{"scope": map[string]any{"finding_ids": []string{item}},
			"reason": "iso-reason-a", "approver": "iso-approver-a", "expires_at": time.Now().AddDate(0, 1, 0)}, asA...), http.StatusCreated))
	}
	active, revoked := accept("iso-accepted-a"), accept("iso-accepted-b")
	must(t, a.call(t, http.MethodDelete, "/api/v1/risk-acceptances/"+revoked, nil, asA...), http.StatusAccepted)

	// Read back once, so the views compared at the end hold them.
	var list []riskquery.Risk
	a.call(t, http.MethodGet, "/api/v1/risks", nil, asA...).data(t, &list)
	risks, kris, acceptances = []string{open, closed}, []string{kri, retired}, []string{active, revoked}
	streams = []string{"risk-" + open, "risk-" + closed, "kri-" + kri, "kri-" + retired, "riskacceptance-" + active, "riskacceptance-" + revoked}
	secrets = []string{"iso-matrix-a", "iso-risk-open", "iso-risk-closed", "iso-owner-a", "iso-asset-a", "iso-task-a", "iso-kri-a", "iso-kri-retired",
		"iso-accepted-a", "iso-accepted-b", "iso-reason-a", "iso-approver-a", open, closed, kri, retired, active, revoked}
	return risks, kris, acceptances, streams, secrets
}

// riskValidBodies are the bodies team B sends to the risk routes.
func riskValidBodies() map[string]any {
	return map[string]any{
		"defineRiskMatrix": map[string]any{"name": "team b matrix", "likelihood": []string{"a", "b"}, "impact": []string{"a", "b"},
			"levels": []string{"x", "y"}, "cells": [][]string{{"x", "y"}, {"y", "y"}}},
		"identifyRisk":        map[string]any{"title": "team b risk", "owner": "bob"},
		"describeRisk":        map[string]any{"title": "team b risk", "owner": "bob"},
		"scoreRisk":           map[string]any{"kind": "current", "likelihood": "rare", "impact": "minor"},
		"closeRisk":           map[string]any{"reason": "r"},
		"planTreatment":       map[string]any{"strategy": "avoid", "owner": "bob", "due_date": "2030-01-01T00:00:00Z"},
		"updateTreatmentTask": map[string]any{"status": "done"},
		"defineKRI":           map[string]any{"name": "team b kri", "unit": "u", "direction": "lower_is_worse", "amber": 2, "red": 1, "source": "manual"},
		"redefineKRI":         map[string]any{"name": "team b kri", "unit": "u", "direction": "lower_is_worse", "amber": 2, "red": 1, "source": "manual"},
		"measureKRI":          map[string]any{"value": 1},
		"acceptRisk": map[string]any{"scope": map[string]any{"finding_ids": []string{"team-b-finding"}}, "reason": "r", "approver": "b",
			"expires_at": time.Now().AddDate(0, 1, 0)},
	}
}

// riskCommands: no risk route creates under an id the caller chooses
// (risk, plan, KRI and acceptance ids are generated; the matrix stream is
// the caller's team's).
var riskCommands = []string{"defineRiskMatrix", "identifyRisk", "describeRisk", "scoreRisk", "closeRisk", "planTreatment", "updateTreatmentTask",
	"defineKRI", "redefineKRI", "retireKRI", "measureKRI", "acceptRisk", "revokeRiskAcceptance"}
