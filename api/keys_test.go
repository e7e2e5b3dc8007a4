package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/auth"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// keyService is the real command handlers and authenticator behind the
// key routes (revocations invalidate the cache, as the process wires it),
// with a recording fake for the list.
type keyService struct {
	*platformcmd.Handlers
	auth *auth.Authenticator

	mu       sync.Mutex
	listed   []string // team of each ListKeys call
	pages    []queries.Page
	listWith platformquery.APIKeyList
}

func (k *keyService) RevokeKey(ctx context.Context, m commands.Meta, cmd platformcmd.RevokeKey) (commands.Result, error) {
	res, err := k.Handlers.RevokeKey(ctx, m, cmd)
	if err == nil {
		k.auth.Invalidate(cmd.KeyID)
	}
	return res, err
}

func (k *keyService) ListKeys(_ context.Context, team string, p queries.Page) (platformquery.APIKeyList, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.listed = append(k.listed, team)
	k.pages = append(k.pages, p)
	return k.listWith, nil
}

// keysComponent is the API over a real SQLite store, real command
// handlers and the real key authenticator, with an admin key of team-a
// and one of team-b issued through the commands.
type keysComponent struct {
	url    string
	keys   *keyService
	logs   *logBuffer
	admin  string // team-a admin
	adminB string // team-b admin
}

func newKeysComponent(t *testing.T) *keysComponent {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cspm_events.sqlite"),
		sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	codec := eventstore.NewDomainCodec()
	kit := commands.NewKit(store, codec, time.Now)
	handlers := platformcmd.New(kit)
	authn := auth.New(store, codec, auth.Config{})
	c := &keysComponent{keys: &keyService{Handlers: handlers, auth: authn}, logs: &logBuffer{}}
	srv := api.NewServer(api.ServerConfig{
		BodyLimit: 4 << 10,
		Logger:    slog.New(slog.NewJSONHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, api.Deps{
		Commands: moduleCommands(kit),
		Auth:     authn,
		Keys:     c.keys,
		Progress: &fakeProgress{},
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c.url = ts.URL
	for team, dst := range map[string]*string{"team-a": &c.admin, "team-b": &c.adminB} {
		k, err := handlers.IssueKey(t.Context(), commands.Meta{TeamID: team, Actor: "test"}, platformcmd.IssueKey{Name: "admin", Role: "admin"})
		require.NoError(t, err)
		*dst = k.Key
	}
	return c
}

// as sends r with key.
func (c *keysComponent) as(t *testing.T, key string, r request) response {
	t.Helper()
	if r.Header == nil {
		r.Header = map[string]string{}
	}
	r.Header["Authorization"] = "Bearer " + key
	return send(t, c.url, r)
}

func (c *keysComponent) create(t *testing.T, key, body string) (response, api.KeyCreated) {
	t.Helper()
	res := c.as(t, key, request{Path: "/api/v1/keys", Body: body})
	return res, mustSucceed[api.KeyCreated](t, res, http.StatusCreated)
}

func TestKeyRoutes(t *testing.T) {
	t.Parallel()
	c := newKeysComponent(t)

	// Create: 201 with the key, in the caller's team; never cached.
	res, created := c.create(t, c.admin, `{"name": "ci pipeline", "role": "analyst"}`)
	keyID, _, err := access.ParseToken(created.Key)
	require.NoError(t, err)
	assert.Equal(t, keyID, created.ID)
	assert.Equal(t, "apikey-"+keyID, created.StreamID)
	assert.Equal(t, int64(1), created.Version)
	assert.Equal(t, created.Position, res.Env.Meta.Position)
	assert.Len(t, created.EventIDs, 1)
	assert.Equal(t, "ci pipeline", created.Name)
	assert.Equal(t, "analyst", created.Role)
	assert.Equal(t, "team-a", created.TeamID)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(res.Data, &raw))
	assert.ElementsMatch(t, []string{"id", "stream_id", "version", "position", "event_ids", "key", "name", "role", "team_id"}, keys(raw))

	// The new key works, with its own role: an analyst may not manage keys.
	forbidden := c.as(t, created.Key, request{Method: http.MethodGet, Path: "/api/v1/keys"})
	assert.Equal(t, http.StatusForbidden, forbidden.Status, "%s", forbidden.Raw)

	// Revoke: another team's key does not exist for the caller.
	revokePath := "/api/v1/keys/" + keyID + "/revoke"
	notFound := c.as(t, c.adminB, request{Path: revokePath})
	assert.Equal(t, http.StatusNotFound, notFound.Status, "%s", notFound.Raw)
	assert.Equal(t, http.StatusForbidden, c.as(t, created.Key, request{Method: http.MethodGet, Path: "/api/v1/keys"}).Status, "still valid")

	revoked := mustSucceed[api.CommandResult](t, c.as(t, c.admin, request{Path: revokePath, Body: `{"reason": "rotated"}`}), http.StatusAccepted)
	assert.Equal(t, keyID, revoked.ID)
	assert.Equal(t, int64(2), revoked.Version)

	// Revoked in this process: refused at once (401), like any bad key.
	gone := c.as(t, created.Key, request{Method: http.MethodGet, Path: "/api/v1/keys"})
	assert.Equal(t, http.StatusUnauthorized, gone.Status, "%s", gone.Raw)
	assert.Equal(t, api.CodeUnauthenticated, gone.Env.Error.Code)

	again := c.as(t, c.admin, request{Path: revokePath})
	assert.Equal(t, http.StatusUnprocessableEntity, again.Status, "%s", again.Raw)
	assert.Equal(t, access.CodeKeyAlreadyRevoked, again.Env.Error.Code)

	// No key ever reaches the logs.
	assert.NotContains(t, c.logs.String(), created.Key)
	assert.NotContains(t, c.logs.String(), c.admin)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCreateKeyInput(t *testing.T) {
	t.Parallel()
	c := newKeysComponent(t)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"no body", "", http.StatusBadRequest, api.CodeMalformedBody, nil},
		{"a team in the body", `{"name": "x", "role": "viewer", "team_id": "team-b"}`, http.StatusBadRequest, api.CodeMalformedBody, []string{"team_id"}},
		{"unknown role and no name", `{"name": " ", "role": "root"}`, http.StatusBadRequest, api.CodeValidationFailed, []string{"name", "role"}},
		{"name too long", `{"name": "` + longName() + `", "role": "viewer"}`, http.StatusBadRequest, api.CodeValidationFailed, []string{"name"}},
		{"role of the wrong type", `{"name": "x", "role": 3}`, http.StatusBadRequest, api.CodeMalformedBody, []string{"role"}},
	}
	for _, tc := range tests {
		res := c.as(t, c.admin, request{Path: "/api/v1/keys", Body: tc.body, ContentType: "application/json"})
		assert.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Raw)
		if assert.NotNil(t, res.Env.Error, tc.name) {
			assert.Equal(t, tc.code, res.Env.Error.Code, tc.name)
			if tc.fields != nil {
				assert.Equal(t, tc.fields, fields(res.Env), tc.name)
			}
		}
	}

	// Only admins manage keys; no key at all is 401.
	_, analyst := c.create(t, c.admin, `{"name": "a", "role": "analyst"}`)
	res := c.as(t, analyst.Key, request{Path: "/api/v1/keys", Body: `{"name": "x", "role": "admin"}`})
	assert.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	res = send(t, c.url, request{Path: "/api/v1/keys", Body: `{"name": "x", "role": "admin"}`, Header: map[string]string{"Authorization": "-"}})
	assert.Equal(t, http.StatusUnauthorized, res.Status, "%s", res.Raw)
}

func longName() string { return strings.Repeat("n", access.MaxNameLength+1) }

// An idempotent replay of a create answers 201 with the same key id and
// no key: the secret is shown once.
func TestCreateKeyReplay(t *testing.T) {
	t.Parallel()
	c := newKeysComponent(t)
	req := request{Path: "/api/v1/keys", Body: `{"name": "ci", "role": "viewer"}`, Header: map[string]string{"Idempotency-Key": "create-ci"}}
	first := c.as(t, c.admin, req)
	created := mustSucceed[api.KeyCreated](t, first, http.StatusCreated)
	require.NotEmpty(t, created.Key)

	replay := c.as(t, c.admin, req)
	again := mustSucceed[api.KeyCreated](t, replay, http.StatusCreated)
	assert.Equal(t, "true", replay.Header.Get(api.HeaderIdempotentReplay))
	assert.Empty(t, again.Key)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(replay.Data, &raw))
	assert.NotContains(t, raw, "key", "a replay has no key field")
	want := created
	want.Key = ""
	assert.Equal(t, want, again)

	// The same Idempotency-Key from another team is another command.
	other := mustSucceed[api.KeyCreated](t, c.as(t, c.adminB, req), http.StatusCreated)
	assert.NotEmpty(t, other.Key)
	assert.Equal(t, "team-b", other.TeamID)
}

func TestListKeysRoute(t *testing.T) {
	t.Parallel()
	c := newKeysComponent(t)
	c.keys.listWith = platformquery.APIKeyList{
		Items:      []platformquery.APIKey{{ID: "k1", Name: "ci", TeamID: "team-b", Role: "viewer", Status: "active"}},
		NextCursor: "next-page",
	}
	res := c.as(t, c.adminB, request{Method: http.MethodGet, Path: "/api/v1/keys?limit=1&cursor=abc"})
	items := mustSucceed[[]platformquery.APIKey](t, res, http.StatusOK)
	assert.Equal(t, c.keys.listWith.Items, items)
	var meta struct {
		Meta struct {
			NextCursor *string `json:"next_cursor"`
			Stale      *bool   `json:"stale"`
		} `json:"meta"`
	}
	require.NoError(t, json.Unmarshal(res.Raw, &meta))
	require.NotNil(t, meta.Meta.NextCursor)
	assert.Equal(t, "next-page", *meta.Meta.NextCursor)
	assert.Equal(t, []string{"team-b"}, c.keys.listed, "the caller's team, never another")
	assert.Equal(t, []queries.Page{{Limit: 1, Cursor: "abc"}}, c.keys.pages)

	bad := c.as(t, c.admin, request{Method: http.MethodGet, Path: "/api/v1/keys?team_id=team-b"})
	assert.Equal(t, http.StatusBadRequest, bad.Status, "%s", bad.Raw)
	assert.NotContains(t, string(res.Raw), "salt")
	assert.NotContains(t, string(res.Raw), "hash")
}

func TestKeyRoutesInTheTable(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth, Keys: &keyService{}, Progress: &fakeProgress{}})
	want := map[string]struct {
		scope api.Scope
		op    string
	}{
		"POST /api/v1/keys":            {api.TeamCollection, "createKey"},
		"GET /api/v1/keys":             {api.TeamCollection, "listKeys"},
		"POST /api/v1/keys/:id/revoke": {api.TeamResource, "revokeKey"},
	}
	found := 0
	for _, r := range srv.Routes() {
		w, ok := want[r.Key()]
		if !ok {
			continue
		}
		found++
		assert.Equal(t, access.Admin, r.Role, r.Key())
		assert.False(t, r.Public, r.Key())
		assert.Equal(t, w.scope, r.Scope, r.Key())
		assert.Equal(t, w.op, r.OperationID, r.Key())
	}
	assert.Equal(t, len(want), found)

	without := api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth})
	for _, r := range without.Routes() {
		_, ok := want[r.Key()]
		assert.False(t, ok, "%s without Deps.Keys", r.Key())
	}
	assert.Panics(t, func() {
		api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth, Keys: &keyService{}})
	}, "the key list needs read progress")
	assert.Equal(t, []string{"platform.api_keys"}, api.KeyReads())
}
