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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/retention"
)

// fakeRetention answers the retention routes for the guard tests.
type fakeRetention struct{}

func (fakeRetention) SetPolicy(context.Context, commands.Meta, retcmd.SetPolicy) (commands.Result, error) {
	return commands.Result{ID: "scan-results", StreamID: retention.StreamID("scan-results"), Version: 1, Position: 1}, nil
}

func (fakeRetention) Policies(context.Context) ([]retention.Policy, error) {
	return []retention.Policy{{Module: "scan-results", Days: retention.DefaultDays, Default: true}}, nil
}

// retentionContract: an admin sets a policy (an analyst's try is 403),
// lists it with who set it; a bad module or days is 400 naming the field.
func retentionContract(t *testing.T, c *contract) {
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	body := exampleBody(t, c.doc, "setRetentionPolicy")
	c.send(t, request{Method: "PUT", Path: "/api/v1/retention-policies/scan-results", Body: body, Header: analyst}, 403, docValid)
	set := c.send(t, request{Method: "PUT", Path: "/api/v1/retention-policies/scan-results", Body: body}, 202, docValid)
	var res api.CommandResult
	require.NoError(t, json.Unmarshal(set.Data, &res))
	assert.Equal(t, retention.StreamID("scan-results"), res.StreamID)

	bad := c.send(t, request{Method: "PUT", Path: "/api/v1/retention-policies/scan-results", Body: `{"days": 10}`}, 400, docValid)
	assert.Contains(t, string(bad.Raw), `"field":"days"`)
	bad = c.send(t, request{Method: "PUT", Path: "/api/v1/retention-policies/scan-results", Body: `{}`}, 400, docInvalid)
	assert.Contains(t, string(bad.Raw), `"field":"days"`)
	bad = c.send(t, request{Method: "PUT", Path: "/api/v1/retention-policies/nope", Body: body}, 400, docValid)
	assert.Contains(t, string(bad.Raw), `"field":"module"`)

	got := c.send(t, request{Method: "GET", Path: "/api/v1/retention-policies"}, 200, docValid)
	var ps []retention.Policy
	require.NoError(t, json.Unmarshal(got.Data, &ps))
	require.Len(t, ps, len(retention.Modules))
	assert.Equal(t, 365, ps[0].Days)
	assert.False(t, ps[0].Default)
	assert.Equal(t, "audit asks for a year", ps[0].Reason)
	assert.True(t, ps[1].Default)
	c.send(t, request{Method: "GET", Path: "/api/v1/retention-policies?min_position=1"}, 400, docEither)
}

func init() { fuzzed["setRetentionPolicy"] = true } // FuzzDecodeSetRetentionPolicy

// countingRetention counts the policy commands that reached it.
type countingRetention struct {
	fakeRetention
	n atomic.Int64
}

func (c *countingRetention) SetPolicy(ctx context.Context, m commands.Meta, cmd retcmd.SetPolicy) (commands.Result, error) {
	c.n.Add(1)
	return c.fakeRetention.SetPolicy(ctx, m, cmd)
}

// FuzzDecodeSetRetentionPolicy: any body is a 2xx that ran the command
// or a 4xx envelope that did not.
func FuzzDecodeSetRetentionPolicy(f *testing.F) {
	for _, s := range append([]string{`{"days":365,"reason":"a year"}`, `{"days":0}`, `{"days":"x"}`, `{"days":1.5}`, `{"reason":null}`}, commonSeeds...) {
		f.Add([]byte(s))
	}
	svc := &countingRetention{}
	env := newFakeEnv(f, func(c *api.ServerConfig, d *api.Deps) {
		c.Logger = slog.New(slog.DiscardHandler)
		d.Retention = svc
	})
	h := env.srv.Handler()
	put := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPut, "/api/v1/retention-policies/scan-results", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testKey(access.Admin, "team-a"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	require.Equal(f, http.StatusAccepted, put([]byte(`{"days":365}`)).Code)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := svc.n.Load()
		rec := put(body)
		var out api.Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "always an envelope: %s", rec.Body.Bytes())
		called := svc.n.Load() > before
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			require.True(t, out.Success)
			require.True(t, called, "a 2xx means the command ran")
			require.True(t, json.Valid(body), "accepted invalid JSON %q", body)
		case rec.Code >= 400 && rec.Code < 500:
			require.False(t, out.Success)
			require.NotNil(t, out.Error)
			require.False(t, called, "a rejected body must not reach the command")
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
	})
}
