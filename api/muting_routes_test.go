package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The muting rule routes and the findings list's flags, over fakes: what
// reaches the commands and queries, and what never does.

func TestFindingsFlags(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	res := r.get(t, "/api/v1/findings?muted=true&suppressed=false")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	yes, no := true, false
	assert.Equal(t, csquery.FindingFilter{Muted: &yes, Suppressed: &no}, r.queries.findingF)
	res = r.get(t, "/api/v1/findings?status=open")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Equal(t, csquery.FindingFilter{Status: "open"}, r.queries.findingF, "absent flags do not filter")
	for _, q := range []string{"muted=1", "muted=TRUE", "suppressed=", "muted=true&muted=false"} {
		res = r.get(t, "/api/v1/findings?"+q)
		require.Equal(t, http.StatusBadRequest, res.Status, q)
		require.Len(t, res.Env.Error.Details, 1, q)
		assert.Equal(t, "query", res.Env.Error.Details[0].In, q)
		assert.Contains(t, []string{"muted", "suppressed"}, res.Env.Error.Details[0].Field, q)
	}
}

func TestMutingRuleQueries(t *testing.T) {
	t.Parallel()
	r := newReadEnv(t, time.Second)
	res := r.get(t, "/api/v1/muting-rules?status=active&limit=5&cursor=c1")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Equal(t, csquery.MutingRuleFilter{Status: "active"}, r.queries.ruleF)
	assert.Equal(t, queries.Page{Limit: 5, Cursor: "c1"}, r.queries.page)
	assert.Equal(t, "next-r", res.Env.Meta.NextCursor)
	assert.JSONEq(t, `[{"id":"r1","name":"sandbox","reason":"r","owner":"o","match":{"accounts":["111"]},"status":"active",
		"created_at":"2026-01-02T15:00:00Z","since":"2026-01-02T15:00:00Z"}]`, string(res.Data))
	res = r.get(t, "/api/v1/muting-rules?owner=alice")
	require.Equal(t, http.StatusBadRequest, res.Status)
	assert.Equal(t, "owner", res.Env.Error.Details[0].Field)

	res = r.get(t, "/api/v1/muting-rules/r7")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Contains(t, string(res.Data), `"id":"r7"`)
	res = r.get(t, "/api/v1/muting-rules/missing")
	require.Equal(t, http.StatusNotFound, res.Status)
}

func TestMutingRuleCommands(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	h := env.srv.Handler()

	res := serve(t, h, request{Path: "/api/v1/muting-rules", Body: `{"name":"n","reason":"r","owner":"o",
		"match":{"checks":["c"],"tags":{"env":"dev"}},"expires_at":"2099-01-01T00:00:00+02:00"}`})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	assert.Equal(t, "/api/v1/muting-rules/scan-7", res.Header.Get("Location"), "the command's id (the fake's)")
	expires := time.Date(2099, 1, 1, 0, 0, 0, 0, time.FixedZone("", 2*3600))
	calls := env.cmds.Calls()
	require.Len(t, calls, 1)
	got := calls[0].Cmd.(cscmd.CreateMutingRule)
	require.NotNil(t, got.ExpiresAt)
	assert.True(t, expires.Equal(*got.ExpiresAt))
	got.ExpiresAt = nil
	assert.Equal(t, cscmd.CreateMutingRule{Name: "n", Reason: "r", Owner: "o",
		Match: cscmd.RuleMatch{Checks: []string{"c"}, Tags: map[string]string{"env": "dev"}}}, got)
	assert.Equal(t, "POST /api/v1/muting-rules", calls[0].Meta.Route)

	res = serve(t, h, request{Method: http.MethodPut, Path: "/api/v1/muting-rules/r1", Body: `{"name":"n","reason":"r","owner":"o","match":{"regions":["eu-west-1"]}}`})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	res = serve(t, h, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/r1"})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	res = serve(t, h, request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/r1", Body: `{"reason":"closed"}`,
		Header: map[string]string{"Idempotency-Key": "rm-1"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	calls = env.cmds.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, cscmd.ChangeMutingRule{RuleID: "r1", Name: "n", Reason: "r", Owner: "o",
		Match: cscmd.RuleMatch{Regions: []string{"eu-west-1"}}}, calls[1].Cmd)
	assert.Equal(t, cscmd.RemoveMutingRule{RuleID: "r1"}, calls[2].Cmd)
	assert.Equal(t, cscmd.RemoveMutingRule{RuleID: "r1", Reason: "closed"}, calls[3].Cmd)
	assert.Equal(t, "rm-1", calls[3].Meta.IdempotencyKey)
	assert.Equal(t, "DELETE /api/v1/muting-rules/:id", calls[3].Meta.Route)

	// Bad input: 400 naming the field, nothing reaches the command.
	for _, tc := range []struct {
		req   request
		field string
	}{
		{request{Path: "/api/v1/muting-rules", Body: `{"name":"n","reason":"r","owner":"o","match":{"checks":"c"}}`}, "match.checks"},
		{request{Path: "/api/v1/muting-rules", Body: `{"name":"n","reason":"r","owner":"o","match":{"checks":["c"]},"team_id":"b"}`}, "team_id"},
		{request{Path: "/api/v1/muting-rules", Body: `{"name":"n","reason":"r","owner":"o","match":{"checks":["c"]},"expires_at":"soon"}`}, "expires_at"},
		{request{Method: http.MethodPut, Path: "/api/v1/muting-rules/r1", Body: `{"name":"n","reason":"r","owner":"o","match":{"tags":{"env":1}}}`}, "match.tags"},
		{request{Method: http.MethodPut, Path: "/api/v1/muting-rules/bad*id", Body: `{}`}, "id"},
		{request{Method: http.MethodDelete, Path: "/api/v1/muting-rules/r1", Body: `{"reason":["x"]}`}, "reason"},
	} {
		res := serve(t, h, tc.req)
		require.Equal(t, http.StatusBadRequest, res.Status, "%s %s: %s", tc.req.Method, tc.req.Body, res.Raw)
		require.NotEmpty(t, res.Env.Error.Details, "%s", res.Raw)
		assert.Equal(t, tc.field, res.Env.Error.Details[0].Field, "%s", res.Raw)
	}
	assert.Len(t, env.cmds.Calls(), 4, "nothing reached the commands")
	res = serve(t, h, request{Method: http.MethodPost, Path: "/api/v1/muting-rules/r1"})
	assert.Equal(t, http.StatusMethodNotAllowed, res.Status, "%s", res.Raw)
}
