package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/eventstore"
)

// TestTeamIsolation_EveryRoute is generated from the route table of the
// real app: team B's admin key is sent to every route. A route that
// addresses one of team A's resources must answer 404 (as if it did not
// exist), append nothing and change nothing; a route that lists must not
// show team A's data; a route that creates does so in team B only. At the
// end team A's views are exactly what they were. A new route cannot skip
// this test: a team-resource route without an entry in resourceOf or a
// body in validBody fails it.
func TestTeamIsolation_EveryRoute(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	ctx := context.Background()
	adminA, adminB := issueTestKey(t, a, "team-a", "admin"), issueTestKey(t, a, "team-b", "admin")
	asA := []string{"Authorization", "Bearer " + adminA.Key}
	asB := []string{"Authorization", "Bearer " + adminB.Key}

	// Team A's resources, one of each kind a route can address.
	const scanA = "iso-scan-a"
	must(t, a.call(t, http.MethodPost, "/api/v1/scans", map[string]any{"scan_id": scanA, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, asA...), http.StatusCreated)
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/"+scanA+"/start", nil, asA...), http.StatusAccepted)
	var batch api.BatchCommandResult
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/"+scanA+"/findings", map[string]any{"findings": []map[string]any{
		{"check_id": "iso_check", "title": "t", "severity": "high", "resource_id": "iso-resource-a"}}}, asA...), http.StatusAccepted).data(t, &batch)
	require.Len(t, batch.Items, 1)
	findingA := batch.Items[0].ID
	keyA := issueTestKey(t, a, "team-a", "viewer")
	resourceOf := map[string]string{ // path prefix → team A's id in it
		"/api/v1/scans/":         scanA,
		"/api/v1/findings/":      findingA,
		"/api/v1/keys/":          keyA.ID,
		"/api/v1/audit/streams/": "scan-" + scanA,
	}
	secrets := []string{scanA, findingA, keyA.ID, "iso-resource-a", "iso_check"}

	head, err := a.store.HeadPosition(ctx)
	require.NoError(t, err)
	viewsA := teamViews(t, a, head, asA)

	validBody := map[string]any{ // by operation id, for routes that need one
		"requestScan":     map[string]any{"scan_id": "iso-scan-b", "account_id": "210987654321", "provider": "aws", "tool": "trivy"},
		"raiseFindings":   map[string]any{"findings": []map[string]any{{"check_id": "c", "title": "t", "severity": "low", "resource_id": "r"}}},
		"failScan":        map[string]any{"reason": "scanner crashed"},
		"suppressFinding": map[string]any{"reason": "accepted risk"},
		"createKey":       map[string]any{"name": "team b key", "role": "viewer"},
	}
	param := regexp.MustCompile(`:[a-z_]+`)
	routes := a.srv.Routes()
	require.NotEmpty(t, routes)
	for _, r := range routes {
		if r.Public {
			continue
		}
		t.Run(r.Key(), func(t *testing.T) {
			body := validBody[r.OperationID]
			switch r.Scope {
			case api.TeamResource:
				id := ""
				for prefix, v := range resourceOf {
					if strings.HasPrefix(r.Path, prefix) {
						id = v
					}
				}
				require.NotEmpty(t, id, "%s addresses a team resource: add team A's resource for it to resourceOf", r.Key())
				path := param.ReplaceAllString(r.Path, id)
				before, err := a.store.HeadPosition(ctx)
				require.NoError(t, err)
				ans := a.call(t, r.Method, path, body, asB...)
				require.Equal(t, http.StatusNotFound, ans.status, "team B reaching team A's %s: %s (a 400 means validBody needs an entry for %s)", path, ans.raw, r.OperationID)
				assert.Equal(t, api.CodeNotFound, ans.env.Error.Code)
				after, err := a.store.HeadPosition(ctx)
				require.NoError(t, err)
				assert.Equal(t, before, after, "nothing appended")
			case api.TeamCollection:
				if r.Method != http.MethodGet {
					ans := a.call(t, r.Method, r.Path, body, asB...)
					require.Less(t, ans.status, 300, "team B creates in its own team: %s", ans.raw)
					return
				}
				ans := a.call(t, r.Method, r.Path, nil, asB...)
				require.Equal(t, http.StatusOK, ans.status, "%s", ans.raw)
				for _, s := range secrets {
					assert.NotContains(t, string(ans.env.Data), s, "team B's %s shows team A's data", r.Path)
				}
			case api.Teamless:
				if r.Method == http.MethodGet {
					ans := a.call(t, r.Method, r.Path, nil, asB...)
					assert.Equal(t, http.StatusOK, ans.status, "a team-less admin route serves any team's admin: %s", ans.raw)
				}
			}
		})
	}

	// Team B's writes left team A's views as they were.
	head, err = a.store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, viewsA, teamViews(t, a, head, asA))
}

// teamViews reads every list and summary a team sees, once the read
// models have passed position.
func teamViews(t *testing.T, a *testApp, position int64, as []string) map[string]string {
	t.Helper()
	views := map[string]string{}
	for _, r := range a.srv.Routes() {
		if r.Public || r.Method != http.MethodGet || r.Scope != api.TeamCollection {
			continue
		}
		var ans *answer
		eventually(t, 30*time.Second, r.Path+" catches up", func() bool {
			ans = a.call(t, http.MethodGet, r.Path+"?min_position="+itoa(position), nil, as...)
			return ans.status == http.StatusOK && !stale(ans)
		})
		views[r.Path] = string(ans.env.Data)
	}
	return views
}

// issueTestKey issues an API key straight through the command handlers.
func issueTestKey(t *testing.T, a *testApp, team, role string) commands.IssuedKey {
	t.Helper()
	h := commands.New(a.store, eventstore.NewDomainCodec(), time.Now)
	k, err := h.IssueKey(context.Background(), commands.Meta{TeamID: team, Actor: "test"}, commands.IssueKey{Name: team + " " + role, Role: role})
	require.NoError(t, err)
	require.NotEmpty(t, k.Key)
	return k
}
