package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// riskContract runs the risk routes over HTTP against the real commands,
// projection and queries: the matrix defined by an admin (an analyst's is
// 403), a risk identified, scored under the default matrix, then under a
// new version (the first score keeps version 0 and its matrix), a plan
// whose progress follows its tasks, a KRI measured and its series, an
// acceptance approved by an admin (an analyst's is 403) and revoked; team
// B sees none of it.
func riskContract(t *testing.T, c *contract) {
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	pos := func(r response) string {
		var res api.CommandResult
		require.NoError(t, json.Unmarshal(r.Data, &res))
		return strconv.FormatInt(res.Position, 10)
	}
	idOf := func(r response) string {
		var res api.CommandResult
		require.NoError(t, json.Unmarshal(r.Data, &res))
		return res.ID
	}

	// A risk scored under the default matrix (version 0).
	created := c.send(t, request{Path: "/api/v1/risks", Body: exampleBody(t, c.doc, "identifyRisk"), Header: analyst}, 201, docValid)
	id := idOf(created)
	assert.Equal(t, "/api/v1/risks/"+id, created.Header.Get("Location"))
	c.send(t, request{Path: "/api/v1/risks", Body: `{"title": "t", "owner": "o", "inherent": {"likelihood": "sometimes", "impact": "major"}}`, Header: analyst}, 400, docValid)

	// A new matrix: an analyst may not, an admin may; the same again is 422.
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risk-matrix", Body: exampleBody(t, c.doc, "defineRiskMatrix"), Header: analyst}, 403, docValid)
	defined := c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risk-matrix", Body: exampleBody(t, c.doc, "defineRiskMatrix")}, 202, docValid)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risk-matrix", Body: exampleBody(t, c.doc, "defineRiskMatrix")}, 422, docValid)
	m := c.get(t, "/api/v1/risk-matrix?min_position="+pos(defined), 200, docValid)
	assert.Contains(t, string(m.Data), `"current_version":1`)

	// Scored under version 1; the inherent score keeps version 0.
	c.send(t, request{Path: "/api/v1/risks/" + id + "/scores", Body: `{"kind": "current", "likelihood": "likely", "impact": "major"}`, Header: analyst}, 400, docValid)
	c.send(t, request{Path: "/api/v1/risks/" + id + "/scores", Body: `{"kind": "current", "likelihood": "medium", "impact": "high"}`, Header: analyst}, 202, docValid)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risks/" + id, Body: exampleBody(t, c.doc, "describeRisk"), Header: analyst}, 202, docValid)
	planned := c.send(t, request{Path: "/api/v1/risks/" + id + "/treatment-plans", Body: exampleBody(t, c.doc, "planTreatment"), Header: analyst}, 202, docValid)
	got := c.get(t, "/api/v1/risks/"+id+"?min_position="+pos(planned), 200, docValid, "Authorization", viewer["Authorization"])
	r := data[riskquery.Risk](t, got)
	assert.Equal(t, 0, r.Scores["inherent"].MatrixVersion)
	assert.Equal(t, "critical", r.Scores["inherent"].Level, "the default matrix's level, kept")
	assert.Equal(t, 1, r.Scores["current"].MatrixVersion)
	assert.Equal(t, "high", r.Scores["current"].Level)
	assert.Contains(t, r.Matrices, "0")
	assert.Contains(t, r.Matrices, "1")
	assert.Equal(t, "carol", r.Owner)
	require.Len(t, r.Plans, 1)
	assert.Equal(t, 0, r.Plans[0].Progress)
	done := c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risks/" + id + "/treatment-plans/" + r.Plans[0].PlanID + "/tasks/1", Body: `{"status": "done"}`, Header: analyst}, 202, docValid)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/risks/" + id + "/treatment-plans/nope/tasks/1", Body: `{"status": "done"}`, Header: analyst}, 422, docValid)
	list := data[[]riskquery.Risk](t, c.get(t, "/api/v1/risks?status=open&min_position="+pos(done), 200, docValid))
	require.Len(t, list, 1)
	assert.Equal(t, 50, list[0].Plans[0].Progress)
	assert.Empty(t, data[[]riskquery.Risk](t, c.get(t, "/api/v1/risks", 200, docValid, "Authorization", viewerB["Authorization"])))
	c.get(t, "/api/v1/risks/"+id, 404, docValid, "Authorization", viewerB["Authorization"])
	c.send(t, request{Path: "/api/v1/risks/" + id + "/close", Body: exampleBody(t, c.doc, "closeRisk"), Header: analyst}, 202, docValid)

	// A KRI, measured twice (one in the past), and its series by day.
	kri := c.send(t, request{Path: "/api/v1/kris", Body: exampleBody(t, c.doc, "defineKRI"), Header: analyst}, 201, docValid)
	kid := idOf(kri)
	now := time.Now().UTC()
	c.send(t, request{Path: "/api/v1/kris/" + kid + "/measurements", Body: `{"value": 4, "measured_at": "` + now.AddDate(0, 0, -2).Format(time.RFC3339) + `"}`, Header: analyst}, 202, docValid)
	c.send(t, request{Path: "/api/v1/kris/" + kid + "/measurements", Body: `{"value": 12}`, Header: analyst}, 202, docValid)
	c.send(t, request{Path: "/api/v1/kris/" + kid + "/measurements", Body: `{"note": "no value"}`, Header: analyst}, 400, docInvalid)
	redef := c.send(t, request{Method: http.MethodPut, Path: "/api/v1/kris/" + kid, Body: exampleBody(t, c.doc, "redefineKRI"), Header: analyst}, 202, docValid)
	k := data[riskquery.KRI](t, c.get(t, "/api/v1/kris/"+kid+"?min_position="+pos(redef), 200, docValid))
	require.NotNil(t, k.LastValue)
	assert.Equal(t, 12.0, *k.LastValue)
	assert.Equal(t, "red", k.State)
	assert.Len(t, data[[]riskquery.KRI](t, c.get(t, "/api/v1/kris", 200, docValid)), 1)
	from := now.AddDate(0, 0, -3).Format(time.RFC3339)
	series := data[riskquery.Series](t, c.get(t, "/api/v1/kris/"+kid+"/series?granularity=day&from="+from, 200, docValid))
	require.Len(t, series.Buckets, 4)
	assert.Nil(t, series.Buckets[0].Value, "before the first measurement")
	assert.Equal(t, 4.0, *series.Buckets[1].Value)
	assert.Equal(t, "green", series.Buckets[1].State)
	assert.True(t, series.Buckets[2].Carried)
	assert.Equal(t, "red", series.Buckets[3].State)
	assert.True(t, series.Buckets[3].Breach)
	c.get(t, "/api/v1/kris/"+kid+"/series?granularity=hour", 400, docInvalid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/kris/" + kid, Header: analyst}, 202, docValid)

	// An acceptance: an admin's approval only.
	accept := `{"scope": {"occurrence_ids": ["occ-5d1e"]}, "reason": "WAF rule", "approver": "ciso", "expires_at": "` + now.AddDate(0, 1, 0).Format(time.RFC3339) + `"}`
	c.send(t, request{Path: "/api/v1/risk-acceptances", Body: accept, Header: analyst}, 403, docValid)
	acc := c.send(t, request{Path: "/api/v1/risk-acceptances", Body: accept}, 201, docValid)
	aid := idOf(acc)
	c.send(t, request{Path: "/api/v1/risk-acceptances", Body: `{"scope": {}, "reason": "r", "approver": "c", "expires_at": "2020-01-01T00:00:00Z"}`}, 400, docValid)
	byItem := data[[]riskquery.Acceptance](t, c.get(t, "/api/v1/risk-acceptances?item_id=occ-5d1e&min_position="+pos(acc), 200, docValid))
	require.Len(t, byItem, 1)
	assert.Equal(t, aid, byItem[0].ID)
	c.get(t, "/api/v1/risk-acceptances?status=active", 200, docValid)
	c.get(t, "/api/v1/risk-acceptances/"+aid, 200, docValid)
	c.get(t, "/api/v1/risk-acceptances/"+aid, 404, docValid, "Authorization", viewerB["Authorization"])
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/risk-acceptances/" + aid, Header: analyst}, 403, docValid)
	revoked := c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/risk-acceptances/" + aid, Body: exampleBody(t, c.doc, "revokeRiskAcceptance")}, 202, docValid)
	a := data[riskquery.Acceptance](t, c.get(t, "/api/v1/risk-acceptances/"+aid+"?min_position="+pos(revoked), 200, docValid))
	assert.Equal(t, "revoked", a.Status)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/risk-acceptances/" + aid}, 422, docValid)

	// The dashboard's risk section: the closed risk, retired KRI and
	// revoked acceptance are in none of its lists.
	dash := c.get(t, "/api/v1/dashboard/summary?min_position="+pos(revoked), 200, docValid)
	assert.Contains(t, string(dash.Data), `"risk":{"open_risks":0,"top_risks":[],"kris_in_breach":0`)
	assert.NotContains(t, string(c.get(t, "/api/v1/dashboard/summary", 200, docValid, "Authorization", viewerB["Authorization"]).Data), `"risk"`)
}
