package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// importedFindings is the triage commands' port over the findings queries,
// as cmd/cspm wires it.
func importedFindings(q *csquery.Service) cscmd.ImportedFindings {
	return cscmd.ImportedFindingsFunc(func(ctx context.Context, team, id string) (cscmd.ImportedFinding, bool, error) {
		f, err := q.ImportedFinding(ctx, team, id)
		switch {
		case errors.Is(err, queries.ErrNotFound):
			return cscmd.ImportedFinding{}, false, nil
		case err != nil:
			return cscmd.ImportedFinding{}, false, err
		}
		return cscmd.ImportedFinding{Status: f.Status, LastSeen: f.LastSeen}, true, nil
	})
}

// mutingContract sends the muting rule routes and the triage of an
// imported finding through the contract (called by TestOpenAPIContract).
func mutingContract(t *testing.T, c *contract, env *contractEnv) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}

	// Team A imported the first scan of the before/after pair (stored
	// directly: imports are not routes of this server yet).
	req, err := pt.ImportRequest(eventstore.NewDomainCodec(), "team-a", pt.PairScan1()...)
	require.NoError(t, err)
	_, err = env.store.Append(context.Background(), req)
	require.NoError(t, err)

	// Rules: the example, a replay, then what can go wrong.
	created := c.send(t, request{Path: "/api/v1/muting-rules", Body: exampleBody(t, c.doc, "createMutingRule"),
		Header: map[string]string{"Idempotency-Key": "contract-rule-1"}}, 201, docValid)
	rule := data[api.CommandResult](t, created)
	assert.Equal(t, "/api/v1/muting-rules/"+rule.ID, created.Header.Get("Location"))
	replay := c.send(t, request{Path: "/api/v1/muting-rules", Body: exampleBody(t, c.doc, "createMutingRule"),
		Header: map[string]string{"Idempotency-Key": "contract-rule-1"}}, 201, docValid)
	assert.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, rule.ID, data[api.CommandResult](t, replay).ID)
	c.send(t, request{Path: "/api/v1/muting-rules", Body: exampleBody(t, c.doc, "createMutingRule"), Header: viewer}, 403, docValid)
	res := c.send(t, request{Path: "/api/v1/muting-rules", Body: `{"name": "n", "reason": "r", "owner": "o", "match": {}}`}, 400, docEither)
	assert.Equal(t, "match", res.Env.Error.Details[0].Field)
	res = c.send(t, request{Path: "/api/v1/muting-rules",
		Body: `{"name": "n", "reason": "r", "owner": "o", "match": {"checks": ["c"]}, "expires_at": "2001-01-01T00:00:00Z"}`}, 400, docEither)
	assert.Equal(t, "expires_at", res.Env.Error.Details[0].Field)
	c.send(t, request{Path: "/api/v1/muting-rules", Body: `{"name": "n", "reason": "r", "owner": "o", "match": {"checks": "c"}}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/muting-rules", Body: `{"name": "n", "reason": "r", "owner": "o", "match": {"checks": ["c"]}, "rule_id": "mine"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/muting-rules", Body: `{"reason": "r", "owner": "o", "match": {"checks": ["c"]}}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/muting-rules", Body: `{"name": "n", "reason": "r", "owner": "o", "match": {"checks": ["c"]}}`,
		ContentType: "text/plain"}, 415, docInvalid)
	multi := c.send(t, request{Path: "/api/v1/muting-rules",
		Body: `{"name": "multi-region", "reason": "an org trail is planned", "owner": "alice", "match": {"checks": ["cloudtrail_multi_region_enabled"]}}`}, 201, docValid)
	multiID := data[api.CommandResult](t, multi).ID
	pos := fmt.Sprint(multi.Env.Meta.Position)

	list := c.get(t, "/api/v1/muting-rules?min_position="+pos, 200, docValid)
	assert.Len(t, data[[]json.RawMessage](t, list), 2)
	page := c.get(t, "/api/v1/muting-rules?limit=1&status=active", 200, docValid, "Authorization", viewer["Authorization"])
	require.NotEmpty(t, page.Env.Meta.NextCursor)
	c.get(t, "/api/v1/muting-rules?limit=1&status=active&cursor="+page.Env.Meta.NextCursor, 200, docValid)
	c.get(t, "/api/v1/muting-rules?status=paused", 400, docInvalid)
	c.get(t, "/api/v1/muting-rules?status=", 400, docInvalid)
	c.get(t, "/api/v1/muting-rules?name=x", 400, docEither)
	got := data[csquery.MutingRule](t, c.get(t, "/api/v1/muting-rules/"+rule.ID, 200, docValid))
	assert.Equal(t, "active", got.Status)
	assert.Equal(t, []string{"210987654321"}, got.Match.Accounts)
	c.get(t, "/api/v1/muting-rules/0196f0c1-7a2b-7c3d-8e4f-000000000000", 404, docValid)
	c.get(t, "/api/v1/muting-rules/"+rule.ID, 404, docValid, "Authorization", teamB["Authorization"])
	c.get(t, "/api/v1/muting-rules/bad*id", 400, docInvalid)

	// The imported findings the second rule mutes, and the flags.
	muted := data[[]csquery.Finding](t, c.get(t, "/api/v1/findings?muted=true&suppressed=false&account_id="+pt.PairAccount+"&min_position="+pos, 200, docValid))
	require.Len(t, muted, 3)
	for _, f := range muted {
		assert.Equal(t, []string{multiID}, f.MutedBy)
	}
	c.get(t, "/api/v1/findings?muted=yes", 400, docInvalid)
	c.get(t, "/api/v1/findings?suppressed=", 400, docInvalid)

	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/muting-rules/" + rule.ID, Body: exampleBody(t, c.doc, "changeMutingRule")}, 202, docValid)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/muting-rules/" + rule.ID, Body: `{}`}, 400, docInvalid)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/muting-rules/" + rule.ID, Body: exampleBody(t, c.doc, "changeMutingRule"), Header: teamB}, 404, docValid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/" + rule.ID, Body: `{"reason": 5}`}, 400, docInvalid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/" + rule.ID, Body: exampleBody(t, c.doc, "removeMutingRule")}, 202, docValid)
	res = c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/" + rule.ID}, 422, docValid)
	assert.Equal(t, csdomain.CodeMutingRuleEnded, res.Env.Error.Code)
	res = c.send(t, request{Method: http.MethodPut, Path: "/api/v1/muting-rules/" + rule.ID, Body: exampleBody(t, c.doc, "changeMutingRule")}, 422, docValid)
	assert.Equal(t, csdomain.CodeMutingRuleEnded, res.Env.Error.Code)
	removed := c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/" + multiID}, 202, docValid)
	pos = fmt.Sprint(removed.Env.Meta.Position)
	assert.Empty(t, data[[]json.RawMessage](t, c.get(t, "/api/v1/findings?muted=true&min_position="+pos, 200, docValid)), "removing unmutes")
	assert.Len(t, data[[]json.RawMessage](t, c.get(t, "/api/v1/muting-rules?status=removed", 200, docValid)), 2)

	// Triage of an imported finding.
	id := muted[0].ID
	c.send(t, request{Path: "/api/v1/findings/" + id + "/resolve", Body: exampleBody(t, c.doc, "resolveFinding")}, 202, docValid)
	res = c.send(t, request{Path: "/api/v1/findings/" + id + "/resolve"}, 422, docValid)
	assert.Equal(t, csdomain.CodeFindingAlreadyResolved, res.Env.Error.Code)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	last := c.send(t, request{Path: "/api/v1/findings/" + id + "/suppress", Body: `{"reason": "accepted", "until": "` + until + `"}`}, 202, docValid)
	c.send(t, request{Path: "/api/v1/findings/" + id + "/suppress", Body: `{"reason": "mine"}`, Header: teamB}, 404, docValid)
	c.send(t, request{Path: "/api/v1/findings/fnd-00000000000000000000000000000000/resolve"}, 404, docValid)
	suppressed := data[[]csquery.Finding](t, c.get(t, "/api/v1/findings?suppressed=true&min_position="+fmt.Sprint(last.Env.Meta.Position), 200, docValid))
	require.NotEmpty(t, suppressed)
	var mine *csquery.Finding
	for i := range suppressed {
		if suppressed[i].ID == id {
			mine = &suppressed[i]
		}
	}
	require.NotNil(t, mine, "the imported finding is suppressed")
	assert.Equal(t, "resolved", mine.Status)
	assert.True(t, mine.Suppressed)
}
