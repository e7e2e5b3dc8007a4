package api_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
)

// The guard tests are generated from the route table: a route added to
// the table is covered without touching this file. The team-isolation
// half (another team's key → 404) runs against the real app in
// cmd/cspm/isolation_test.go, which needs stored data.

// fullEnv is a server with every optional dependency, so that its route
// table is the whole API.
func fullEnv(t *testing.T, mutate ...func(*api.ServerConfig, *api.Deps)) *readEnv {
	t.Helper()
	r := &readEnv{queries: &fakeQueries{}, progress: &fakeProgress{reached: 40}, admin: &fakeAdmin{}}
	r.fakeEnv = newFakeEnv(t, append([]func(*api.ServerConfig, *api.Deps){func(c *api.ServerConfig, d *api.Deps) {
		c.ReadWaitTimeout = 50 * time.Millisecond
		d.Queries, d.Progress, d.Projections = r.queries, r.progress, r.admin
		withAllServices(d)
	}}, mutate...)...)
	return r
}

var pathParam = regexp.MustCompile(`:([a-z_]+)`)

var errStoreDown = errors.New("key store: connection refused")

// concrete fills a route template's parameters with plausible values.
func concrete(path string) string {
	return pathParam.ReplaceAllString(path, "x-1")
}

func TestGuard_EveryRouteNeedsAKey(t *testing.T) {
	t.Parallel()
	env := fullEnv(t)
	routes := env.srv.Routes()
	require.NotEmpty(t, routes)
	for _, r := range routes {
		t.Run(r.Key(), func(t *testing.T) {
			for name, auth := range map[string]string{
				"no header":       "-",
				"empty bearer":    "Bearer ",
				"basic scheme":    "Basic dXNlcjpwYXNz",
				"unknown key":     "Bearer cspm_nope_nope",
				"two credentials": "Bearer a b",
			} {
				res := serve(t, env.srv.Handler(), request{Method: r.Method, Path: concrete(r.Path), Header: map[string]string{"Authorization": auth}})
				if r.Public {
					assert.NotEqual(t, http.StatusUnauthorized, res.Status, "%s: a public route answers without a key", name)
					continue
				}
				require.Equal(t, http.StatusUnauthorized, res.Status, "%s: %s", name, res.Raw)
				if r.Method != http.MethodHead {
					require.NotNil(t, res.Env.Error, "%s", res.Raw)
					assert.Equal(t, api.CodeUnauthenticated, res.Env.Error.Code)
				}
				assert.Equal(t, `Bearer realm="cspm"`, res.Header.Get("WWW-Authenticate"))
				assert.NotEmpty(t, res.Header.Get("X-Request-ID"))
			}
		})
	}
	assert.Zero(t, env.cmds.Count(), "no command ran without a key")
}

func TestGuard_EveryRouteChecksTheRole(t *testing.T) {
	t.Parallel()
	env := fullEnv(t)
	for _, r := range env.srv.Routes() {
		if r.Public {
			continue
		}
		t.Run(r.Key(), func(t *testing.T) {
			require.True(t, r.Role.Valid(), "every route declares its role")
			for _, role := range access.Roles() {
				res := serve(t, env.srv.Handler(), request{Method: r.Method, Path: concrete(r.Path),
					Header: map[string]string{"Authorization": "Bearer " + testKey(role, "team-a")}})
				if role.Allows(r.Role) {
					assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Status, "%s may call it: %s", role, res.Raw)
					continue
				}
				require.Equal(t, http.StatusForbidden, res.Status, "%s must not: %s", role, res.Raw)
				require.NotNil(t, res.Env.Error)
				assert.Equal(t, api.CodeForbidden, res.Env.Error.Code)
				assert.Contains(t, res.Env.Error.Message, string(r.Role))
			}
		})
	}
}

// TestGuard_RoleMatrix pins which role each kind of route needs.
func TestGuard_RoleMatrix(t *testing.T) {
	t.Parallel()
	env := fullEnv(t)
	for _, r := range env.srv.Routes() {
		switch {
		case r.Public:
			assert.Contains(t, []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}, r.Path, "only probes and documents are public")
		case strings.HasPrefix(r.Path, "/api/v1/projections"), strings.HasPrefix(r.Path, "/api/v1/keys"),
			strings.HasPrefix(r.Path, "/api/v1/audit"), strings.HasPrefix(r.Path, "/api/v1/system"),
			strings.HasPrefix(r.Path, "/api/v1/retention-policies"):
			assert.Equal(t, access.Admin, r.Role, r.Key())
		case r.Method == http.MethodGet:
			assert.Equal(t, access.Viewer, r.Role, r.Key())
		default:
			assert.Equal(t, access.Analyst, r.Role, r.Key())
		}
		if !r.Public && r.Scope != api.Teamless && strings.Contains(r.Path, "/:") {
			assert.Equal(t, api.TeamResource, r.Scope, "%s addresses a resource", r.Key())
		}
		assert.NotEmpty(t, r.OperationID, r.Key())
	}
}

func TestGuard_RateLimitPerKey(t *testing.T) {
	t.Parallel()
	env := fullEnv(t, func(c *api.ServerConfig, _ *api.Deps) { c.RateLimit, c.RateBurst = 0.5, 3 })
	get := func(key string) response {
		return serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans",
			Header: map[string]string{"Authorization": "Bearer " + key}})
	}
	viewerA := testKey(access.Viewer, "team-a")
	for i := range 3 {
		require.Equal(t, http.StatusOK, get(viewerA).Status, "request %d is within the burst", i)
	}
	res := get(viewerA)
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	assert.Equal(t, api.CodeRateLimited, res.Env.Error.Code)
	after, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	assert.GreaterOrEqual(t, after, 1)
	assert.LessOrEqual(t, after, 2, "one token comes back every 2s")

	assert.Equal(t, http.StatusOK, get(testKey(access.Viewer, "team-b")).Status, "another key has its own budget")
	public := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/healthz", Header: map[string]string{"Authorization": "-"}})
	assert.Equal(t, http.StatusOK, public.Status, "probes are not rate limited")
}

func TestGuard_NoRateLimitByDefault(t *testing.T) {
	t.Parallel()
	env := fullEnv(t)
	for range 500 {
		res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans"})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := request{Method: http.MethodOptions, Path: "/api/v1/scans", Header: map[string]string{
		"Origin": "https://console.example.com", "Access-Control-Request-Method": "POST", "Authorization": "-"}}

	off := fullEnv(t)
	res := serve(t, off.srv.Handler(), preflight)
	assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"), "CORS is off by default")
	get := serve(t, off.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans", Header: map[string]string{"Origin": "https://console.example.com"}})
	assert.Empty(t, get.Header.Get("Access-Control-Allow-Origin"))

	on := fullEnv(t, func(c *api.ServerConfig, _ *api.Deps) { c.CORSOrigins = []string{"https://console.example.com"} })
	res = serve(t, on.srv.Handler(), preflight)
	assert.Equal(t, "https://console.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Authorization")
	other := serve(t, on.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans", Header: map[string]string{"Origin": "https://evil.example"}})
	assert.Empty(t, other.Header.Get("Access-Control-Allow-Origin"), "an origin not listed gets nothing")
}

func TestGuard_AuthenticatorDownIs503(t *testing.T) {
	t.Parallel()
	env := fullEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
		d.Auth = api.AuthenticatorFunc(func(context.Context, string) (access.Principal, error) {
			return access.Principal{}, errStoreDown
		})
	})
	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans"})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	assert.Equal(t, api.CodeUnavailable, res.Env.Error.Code)
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
	assert.NotContains(t, string(res.Raw), errStoreDown.Error(), "the cause is logged, not sent")
	assert.Contains(t, env.logs.String(), errStoreDown.Error())
}
