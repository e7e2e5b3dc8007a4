package api_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
)

// biaContract: a BIA created, a process added (by its example), changed
// and a second one added then removed; submitted, approved by an admin (an
// analyst's approval is 403), reopened; what changed since the approval;
// an exercise planned, run (the RTO missed), a lesson recorded and done,
// another planned and cancelled. Another team's BIA is 404.
func biaContract(t *testing.T, c *contract) {
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}
	created := c.send(t, request{Path: "/api/v1/bias", Body: exampleBody(t, c.doc, "createBIA"), Header: analyst}, 201, docValid)
	var res api.CommandResult
	require.NoError(t, json.Unmarshal(created.Data, &res))
	biaID := res.ID
	path := "/api/v1/bias/" + biaID
	assert.Equal(t, path, created.Header.Get("Location"))
	c.send(t, request{Path: "/api/v1/bias", Body: exampleBody(t, c.doc, "createBIA"), Header: viewer}, 403, docValid)
	c.send(t, request{Method: "PUT", Path: path, Body: exampleBody(t, c.doc, "updateBIA"), Header: analyst}, 202, docValid)

	added := c.send(t, request{Path: path + "/processes", Body: exampleBody(t, c.doc, "addBIAProcess"), Header: analyst}, 201, docValid)
	assert.Contains(t, string(added.Data), `"item_id":"payroll"`)
	bad := c.send(t, request{Path: path + "/processes", Body: `{"name": "x", "owner": "o", "criticality": "low", "rto": "1d", "mtd": "4h"}`}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"mtd"`)
	wiki := c.send(t, request{Path: path + "/processes", Body: `{"name": "Wiki", "owner": "it", "criticality": "low"}`}, 201, docValid)
	var item struct {
		ItemID string `json:"item_id"`
	}
	require.NoError(t, json.Unmarshal(wiki.Data, &item))
	c.send(t, request{Method: "DELETE", Path: path + "/processes/" + item.ItemID}, 202, docValid)
	c.send(t, request{Method: "PUT", Path: path + "/processes/payroll", Body: `{"name": "Payroll", "owner": "hr", "criticality": "high", "rto": "4h", "rpo": "1h", "mtd": "1d", "impacts": [{"category": "operational", "after": "4h", "level": "high"}]}`}, 202, docValid)
	c.send(t, request{Method: "PUT", Path: path + "/processes/nope", Body: exampleBody(t, c.doc, "changeBIAProcess")}, 422, docValid)

	c.send(t, request{Path: path + "/submit", Header: analyst}, 202, docValid)
	c.send(t, request{Path: path + "/approve", Body: exampleBody(t, c.doc, "approveBIA"), Header: analyst}, 403, docValid)
	c.send(t, request{Path: path + "/approve", Body: exampleBody(t, c.doc, "approveBIA")}, 202, docValid)
	reopened := c.send(t, request{Path: path + "/reopen", Body: exampleBody(t, c.doc, "reopenBIA"), Header: analyst}, 202, docValid)
	pos := strconv.FormatInt(reopened.Env.Meta.Position, 10)

	got := c.send(t, request{Method: "GET", Path: path + "?min_position=" + pos, Header: viewer}, 200, docValid)
	assert.Contains(t, string(got.Data), `"status":"draft"`)
	c.send(t, request{Method: "GET", Path: "/api/v1/bias?status=draft&limit=5", Header: viewer}, 200, docValid)
	c.send(t, request{Method: "GET", Path: "/api/v1/bias?status=done"}, 400, docInvalid)
	ch := c.send(t, request{Method: "GET", Path: path + "/changes", Header: viewer}, 200, docValid)
	assert.Contains(t, string(ch.Data), `{"field":"status","from":"approved","to":"draft"}`)
	c.send(t, request{Method: "GET", Path: path + "/changes?from=2000-01-01&to=2099-01-01", Header: viewer}, 200, docValid)
	c.send(t, request{Method: "GET", Path: path + "/changes?from=yesterday"}, 400, docEither)
	c.send(t, request{Method: "GET", Path: path, Header: teamB}, 404, docValid)
	c.send(t, request{Method: "GET", Path: path + "/changes", Header: teamB}, 404, docValid)

	planned := c.send(t, request{Path: path + "/exercises", Body: exampleBody(t, c.doc, "planBIAExercise"), Header: analyst}, 201, docValid)
	require.NoError(t, json.Unmarshal(planned.Data, &res))
	ex := "/api/v1/bia-exercises/" + res.ID
	assert.Equal(t, ex, planned.Header.Get("Location"))
	c.send(t, request{Path: path + "/exercises", Body: exampleBody(t, c.doc, "planBIAExercise"), Header: teamB}, 404, docValid)
	c.send(t, request{Path: ex + "/run", Body: exampleBody(t, c.doc, "recordBIAExerciseRun"), Header: analyst}, 202, docValid)
	lesson := c.send(t, request{Path: ex + "/lessons", Body: `{"title": "Automate the restore.", "owner": "dba"}`, Header: analyst}, 201, docValid)
	require.NoError(t, json.Unmarshal(lesson.Data, &item))
	c.send(t, request{Method: "PUT", Path: ex + "/lessons/" + item.ItemID, Body: exampleBody(t, c.doc, "updateBIALesson"), Header: analyst}, 202, docValid)
	c.send(t, request{Path: ex + "/lessons", Body: exampleBody(t, c.doc, "recordBIALesson"), Header: analyst}, 201, docValid)
	last := c.send(t, request{Path: ex + "/cancel", Body: exampleBody(t, c.doc, "cancelBIAExercise")}, 422, docValid)
	assert.Contains(t, string(last.Raw), "EXERCISE_NOT_PLANNED")
	other := c.send(t, request{Path: path + "/exercises", Body: exampleBody(t, c.doc, "planBIAExercise")}, 201, docValid)
	require.NoError(t, json.Unmarshal(other.Data, &res))
	cancelled := c.send(t, request{Path: "/api/v1/bia-exercises/" + res.ID + "/cancel", Body: exampleBody(t, c.doc, "cancelBIAExercise")}, 202, docValid)
	pos = strconv.FormatInt(cancelled.Env.Meta.Position, 10)

	x := c.send(t, request{Method: "GET", Path: ex + "?min_position=" + pos, Header: viewer}, 200, docValid)
	assert.Contains(t, string(x.Data), `"outcome":"failed"`)
	assert.Contains(t, string(x.Data), `"rto_met":false`)
	list := c.send(t, request{Method: "GET", Path: "/api/v1/bia-exercises?status=cancelled&bia_id=" + biaID + "&limit=5", Header: viewer}, 200, docValid)
	assert.Contains(t, string(list.Data), res.ID)
	c.send(t, request{Method: "GET", Path: "/api/v1/bia-exercises?status=nope"}, 400, docInvalid)
	c.send(t, request{Method: "GET", Path: ex, Header: teamB}, 404, docValid)
}
