package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
)

// Fuzz tests for the request decoders of the command routes. Whatever the
// body, the route never panics and never answers 5xx: either the command
// receives a value (2xx; the body was one valid JSON object) or the client
// gets a 4xx envelope with a code and nothing reaches the command. The
// seeds run as ordinary tests under `go test`.

var commonSeeds = []string{
	``, ` `, `{}`, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{}{}`, `{} x`, `{"a":1}`,
	`{"` + "\xff" + `":1}`, "{\"reason\":\"\x00\"}", `{"reason":"\ud800"}`,
	`{"findings":[{"severity":1}]}`, `{"started_at":"2026-01-02T15:04:05Z"}`,
	`{"started_at":"nope"}`, `{"until":1}`, `{"resource_count":1e400}`,
	`{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
}

func fuzzRoute(f *testing.F, path string, seeds ...string) {
	for _, s := range append(seeds, commonSeeds...) {
		f.Add([]byte(s))
	}
	env := newFakeEnv(f, func(c *api.ServerConfig, _ *api.Deps) { c.Logger = slog.New(slog.DiscardHandler) })
	h := env.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := env.cmds.Count()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var out api.Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "always an envelope: %s", rec.Body.Bytes())
		called := env.cmds.Count() > before
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			require.True(t, out.Success)
			require.True(t, called, "a 2xx means the command ran")
			require.True(t, len(bytes.TrimSpace(body)) == 0 || json.Valid(body), "accepted invalid JSON %q", body)
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
