package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// Fuzz tests for the request decoders of the command routes. Whatever the
// body, the route never panics and never answers 5xx: either the command
// receives a value (2xx; the body was one valid JSON object) or the client
// gets a 4xx envelope with a code and nothing reaches the command. The
// seeds run as ordinary tests under `go test`.

var commonSeeds = []string{
	``, ` `, `{}`, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{}{}`, `{} x`, `{"a":1}`,
	`{"` + "\xff" + `":1}`, "{\"reason\":\"\x00\"}", `{"reason":"\ud800"}`, `{"reason":"\ud83d\ude00"}`,
	`{"reason":"\udc00\ud800"}`, `{"reason":"\\ud800"}`, "{\"reason\":\"\xed\xa0\x80\"}",
	`{"findings":[{"severity":1}]}`, `{"started_at":"2026-01-02T15:04:05Z"}`,
	`{"started_at":"nope"}`, `{"until":1}`, `{"resource_count":1e400}`,
	`{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
}

// fuzzed lists the operation of every fuzz target below; a test checks
// that every command route of the table (POST, not public) has one.
var fuzzed = map[string]bool{
	"requestScan": true, "startScan": true, "completeScan": true, "failScan": true, "raiseFindings": true,
	"resolveFinding": true, "suppressFinding": true, "createKey": true, "revokeKey": true,
	"startRebuild": true, "retryParked": true, "skipParked": true,
	"importReport":     true, // FuzzImportReport (fuzz_import_test.go): the real import on a real store
	"createMutingRule": true, "changeMutingRule": true, "removeMutingRule": true,
}

// noBody are the command routes that read no body.
var noBody = map[string]bool{"cancelRebuild": true}

func TestEveryCommandRouteIsFuzzed(t *testing.T) {
	t.Parallel()
	for _, r := range fullEnv(t).srv.Routes() {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodDelete:
			if !r.Public && !noBody[r.OperationID] {
				assert.True(t, fuzzed[r.OperationID], "%s (%s) reads a body: add a fuzz target", r.Key(), r.OperationID)
			}
		}
	}
}

func fuzzRoute(f *testing.F, path string, seeds ...string) {
	fuzzMethodRoute(f, http.MethodPost, path, seeds...)
}

func fuzzMethodRoute(f *testing.F, method, path string, seeds ...string) {
	for _, s := range append(seeds, commonSeeds...) {
		f.Add([]byte(s))
	}
	keys, admin := &countingKeys{}, &countingAdmin{fakeAdmin: &fakeAdmin{}}
	env := newFakeEnv(f, func(c *api.ServerConfig, d *api.Deps) {
		c.Logger = slog.New(slog.DiscardHandler)
		d.Keys = keys
		d.Projections = admin
		d.Queries, d.Progress = &fakeQueries{}, &fakeProgress{reached: 40}
	})
	h := env.srv.Handler()
	post := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testKey(access.Admin, "team-a"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// The first seed is a valid body: the route is reached at all.
	first := post([]byte(seeds[0]))
	require.Less(f, first.Code, 300, "the first seed must be accepted: %s", first.Body.Bytes())
	f.Fuzz(func(t *testing.T, body []byte) {
		before := env.cmds.Count() + keys.count() + admin.count()
		rec := post(body)

		var out api.Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "always an envelope: %s", rec.Body.Bytes())
		called := env.cmds.Count()+keys.count()+admin.count() > before
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			require.True(t, out.Success)
			require.True(t, called, "a 2xx means the command ran")
			require.True(t, len(bytes.TrimSpace(body)) == 0 || json.Valid(body), "accepted invalid JSON %q", body)
			require.True(t, utf8.Valid(body), "accepted text that is not UTF-8: %q", body)
		case rec.Code >= 400 && rec.Code < 500:
			require.False(t, out.Success)
			require.NotNil(t, out.Error)
			require.NotEmpty(t, out.Error.Code)
			require.False(t, called, "a rejected body must not reach the command")
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
	})
}

func FuzzDecodeRequestScan(f *testing.F) {
	fuzzRoute(f, "/api/v1/scans",
		`{"account_id":"123456789012","provider":"aws","tool":"prowler"}`,
		`{"scan_id":"s1","account_id":"a","provider":"gcp","tool":"trivy","target":"t"}`,
		`{"account_id":5}`, `{"account_id":"a","team_id":"t"}`)
}

func FuzzDecodeStartScan(f *testing.F) {
	fuzzRoute(f, "/api/v1/scans/s1/start", `{"started_at":"2026-01-02T15:04:05+02:00"}`, `{"started_at":null}`)
}

func FuzzDecodeCompleteScan(f *testing.F) {
	fuzzRoute(f, "/api/v1/scans/s1/complete", `{"completed_at":"2026-01-02T15:04:05Z","resource_count":12}`, `{"resource_count":-1}`, `{"resource_count":1.5}`)
}

func FuzzDecodeFailScan(f *testing.F) {
	fuzzRoute(f, "/api/v1/scans/s1/fail", `{"reason":"credentials expired"}`, `{"reason":null}`)
}

func FuzzDecodeRaiseFindings(f *testing.F) {
	fuzzRoute(f, "/api/v1/scans/s1/findings",
		findingsBody(3, -1, ""), findingsBody(5, 3, `"severity": 3`), findingsBody(2, 1, `"cvss": 9.8`),
		`{"findings":null}`, `{"findings":[null]}`, `{"findings":{}}`, `{"findings":[[]]}`)
}

func FuzzDecodeResolveFinding(f *testing.F) {
	fuzzRoute(f, "/api/v1/findings/f1/resolve", `{"reason":"fixed"}`)
}

func FuzzDecodeSuppressFinding(f *testing.F) {
	fuzzRoute(f, "/api/v1/findings/f1/suppress", `{"reason":"false positive","until":"2027-01-01T00:00:00Z"}`, `{"until":"2027-13-01T00:00:00Z"}`)
}

func FuzzDecodeCreateKey(f *testing.F) {
	fuzzRoute(f, "/api/v1/keys", `{"name":"ci","role":"analyst"}`, `{"name":"","role":"root"}`, `{"name":"ci","role":"viewer","team_id":"other"}`)
}

func FuzzDecodeRevokeKey(f *testing.F) {
	fuzzRoute(f, "/api/v1/keys/k1/revoke", `{"reason":"leaked"}`, `{"reason":7}`)
}

func FuzzDecodeStartRebuild(f *testing.F) {
	fuzzRoute(f, "/api/v1/projections/platform.dashboard/rebuild", `{}`)
}

func FuzzDecodeRetryParked(f *testing.F) {
	fuzzRoute(f, "/api/v1/projections/platform.dashboard/parked/retry", `{"position":3}`, `{"position":-1}`)
}

func FuzzDecodeSkipParked(f *testing.F) {
	fuzzRoute(f, "/api/v1/projections/platform.dashboard/parked/skip", `{"position":3}`, `{"position":"x"}`)
}

func FuzzDecodeCreateMutingRule(f *testing.F) {
	fuzzRoute(f, "/api/v1/muting-rules",
		`{"name":"sandbox","reason":"torn down nightly","owner":"alice","match":{"accounts":["1"],"tags":{"env":"dev"}},"expires_at":"2099-01-01T00:00:00Z"}`,
		`{"name":"n","reason":"r","owner":"o","match":{"checks":"c"}}`, `{"name":"n","match":{"tags":{"env":1}}}`,
		`{"name":"n","reason":"r","owner":"o","match":{},"rule_id":"mine"}`, `{"match":null,"expires_at":null}`)
}

func FuzzDecodeChangeMutingRule(f *testing.F) {
	fuzzMethodRoute(f, http.MethodPut, "/api/v1/muting-rules/r1",
		`{"name":"sandbox","reason":"r","owner":"o","match":{"regions":["eu-west-1"],"finding_ids":["fnd-1"]}}`,
		`{"name":"n","reason":"r","owner":"o","match":{"resources":[1]}}`, `{"expires_at":"2099-02-30T00:00:00Z"}`)
}

func FuzzDecodeRemoveMutingRule(f *testing.F) {
	fuzzMethodRoute(f, http.MethodDelete, "/api/v1/muting-rules/r1", `{"reason":"sandbox closed"}`, `{"reason":["x"]}`)
}

// countingKeys is a KeyService that accepts everything and counts calls.
type countingKeys struct{ n atomic.Int64 }

func (k *countingKeys) count() int { return int(k.n.Load()) }

func (k *countingKeys) IssueKey(_ context.Context, m commands.Meta, c platformcmd.IssueKey) (platformcmd.IssuedKey, error) {
	k.n.Add(1)
	return platformcmd.IssuedKey{Result: commands.Result{ID: "k1", StreamID: "apikey-k1", Version: 1, Position: 1}, Name: c.Name, TeamID: m.TeamID}, nil
}

func (k *countingKeys) RevokeKey(_ context.Context, _ commands.Meta, c platformcmd.RevokeKey) (commands.Result, error) {
	k.n.Add(1)
	return commands.Result{ID: c.KeyID, StreamID: "apikey-" + c.KeyID, Version: 2, Position: 2}, nil
}

func (k *countingKeys) ListKeys(context.Context, string, queries.Page) (platformquery.APIKeyList, error) {
	return platformquery.APIKeyList{}, nil
}

// countingAdmin counts the projection-admin calls that take a body.
type countingAdmin struct {
	*fakeAdmin
	n atomic.Int64
}

func (a *countingAdmin) count() int { return int(a.n.Load()) }

func (a *countingAdmin) StartRebuild(ctx context.Context, name string) (api.RebuildStarted, error) {
	a.n.Add(1)
	return a.fakeAdmin.StartRebuild(ctx, name)
}

func (a *countingAdmin) RetryParked(ctx context.Context, name string, position int64) (int, error) {
	a.n.Add(1)
	return a.fakeAdmin.RetryParked(ctx, name, position)
}

func (a *countingAdmin) SkipParked(ctx context.Context, name string, position int64) (int, error) {
	a.n.Add(1)
	return a.fakeAdmin.SkipParked(ctx, name, position)
}
