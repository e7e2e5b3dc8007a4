package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// Contract tests: real requests through the server (on the real SQLite
// event store, command handlers, projections and queries where there are
// real ones), each request checked against the OpenAPI document the
// server serves, and each answer (status, headers, body) validated
// against it, error answers included.

// validity says what the document must say of a request.
type validity int

const (
	docValid   validity = iota // the document accepts the request
	docInvalid                 // the document rejects it too (the server answers 4xx)
	docEither                  // the document cannot tell (a limit, a state, an unknown query parameter)
)

// contract sends requests to h and validates them against the document h
// serves.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	h      http.Handler
	opts   *openapi3filter.Options
	// seen records the statuses each operation answered.
	seen map[string]map[int]bool
}

func newContract(t *testing.T, h http.Handler) *contract {
	t.Helper()
	doc := servedOpenAPI(t, h)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &contract{doc: doc, router: router, h: h, seen: map[string]map[int]bool{}, opts: &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableFormatValidation(),
		},
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				return errNoBearer
			}
			return nil
		},
	}}
}

// send runs r, requires status want, checks the request against the
// document as v says and validates the answer against it.
func (c *contract) send(t *testing.T, r request, want int, v validity) response {
	t.Helper()
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	vreq := newRequest(t, "http://example.test", r)
	route, params, err := c.router.FindRoute(vreq)
	require.NoError(t, err, "%s %s is not in the document", r.Method, r.Path)
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: c.opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch v {
	case docValid:
		require.NoError(t, reqErr, "the document rejects %s %s", r.Method, r.Path)
	case docInvalid:
		require.Error(t, reqErr, "the document accepts %s %s, which the server rejects", r.Method, r.Path)
	}

	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, newRequest(t, "http://example.test", r))
	raw := rec.Body.Bytes()
	require.Equal(t, want, rec.Code, "%s %s: %s", r.Method, r.Path, raw)
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(raw)),
		Options:                c.opts,
	})
	require.NoError(t, err, "%s %s answered %d, which the document does not describe: %s", r.Method, r.Path, rec.Code, raw)

	op := route.Operation.OperationID
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][rec.Code] = true
	return readResponse(t, rec.Code, rec.Header(), raw)
}

func (c *contract) get(t *testing.T, path string, want int, v validity, header ...string) response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return c.send(t, request{Method: http.MethodGet, Path: path, Header: h}, want, v)
}

// requireEveryOperationSucceeded: each documented operation answered a
// 2xx at least once.
func (c *contract) requireEveryOperationSucceeded(t *testing.T) {
	t.Helper()
	for _, op := range operations(c.doc) {
		ok := false
		for status := range c.seen[op.OperationID] {
			ok = ok || status/100 == 2
		}
		assert.True(t, ok, "the contract test never had %s succeed: add a request for it", op.OperationID)
	}
}

func data[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(res.Data, &v), "%s", res.Raw)
	return v
}

func TestOpenAPIContract(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	c := newContract(t, env.srv.Handler())
	none := map[string]string{"Authorization": "-"}
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}

	// System and documentation.
	c.get(t, "/healthz", 200, docValid, "Authorization", "-")
	c.send(t, request{Method: http.MethodHead, Path: "/healthz", Header: none}, 200, docValid)
	c.get(t, "/readyz", 200, docValid, "Authorization", "-")
	c.send(t, request{Method: http.MethodHead, Path: "/readyz", Header: none}, 200, docValid)
	c.get(t, "/metrics", 200, docValid, "Authorization", "-")
	c.get(t, "/openapi.json", 200, docValid, "Authorization", "-")
	page := c.get(t, "/docs", 200, docValid, "Authorization", "-")
	assert.Contains(t, string(page.Raw), `<redoc spec-url="openapi.json">`)
	c.get(t, "/docs?asset=redoc.standalone.js&v=1", 200, docValid, "Authorization", "-")
	c.get(t, "/docs?asset=LICENSE", 200, docValid, "Authorization", "-")
	c.get(t, "/docs?asset=nope.js", 404, docInvalid, "Authorization", "-")
	c.get(t, "/docs?utm_source=wiki", 200, docValid, "Authorization", "-")
	dbs := data[[]api.Database](t, c.get(t, "/api/v1/system/databases", 200, docValid))
	assert.NotEmpty(t, dbs)
	c.get(t, "/api/v1/system/databases?side=read", 400, docEither)

	// Authentication and roles.
	c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan"), Header: none}, 401, docInvalid)
	c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan"), Header: viewer}, 403, docValid)
	c.send(t, request{Method: http.MethodGet, Path: "/api/v1/system/databases", Header: viewer}, 403, docValid)

	// Scans: the documented example requests, then what can go wrong.
	created := c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan"),
		Header: map[string]string{"Idempotency-Key": "contract-create-1"}}, 201, docValid)
	assert.Equal(t, "/api/v1/scans/demo-1", created.Header.Get("Location"))
	replay := c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan"),
		Header: map[string]string{"Idempotency-Key": "contract-create-1"}}, 201, docValid)
	assert.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan")}, 409, docValid)
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}
	res := c.send(t, request{Path: "/api/v1/scans", Body: exampleBody(t, c.doc, "requestScan"), Header: teamB}, 409, docValid)
	assert.Equal(t, api.CodeIDInUse, res.Env.Error.Code, "another team's scan id")
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "1", "provider": "gcp", "tool": "trivy"}`,
		Header: map[string]string{"Idempotency-Key": "contract-create-1"}}, 422, docValid)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "1", "provider": "mainframe", "tool": "trivy"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": 1, "provider": "aws", "tool": "trivy"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "1", "provider": "aws", "tool": "trivy", "team_id": "b"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "1", "provider": "aws", "tool": "trivy"}`, ContentType: "text/plain"}, 415, docInvalid)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "` + strings.Repeat("1", 5<<10) + `", "provider": "aws", "tool": "t"}`}, 413, docEither)
	c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "1", "provider": "aws", "tool": "t"}`,
		Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400, docInvalid)
	other := c.send(t, request{Path: "/api/v1/scans", Body: `{"account_id": "210987654321", "provider": "azure", "tool": "trivy"}`}, 201, docValid)
	otherID := data[api.CommandResult](t, other).ID

	// The examples' timestamps are in the past of this scan: a rule says no.
	res = c.send(t, request{Path: "/api/v1/scans/demo-1/complete", Body: exampleBody(t, c.doc, "completeScan")}, 422, docValid)
	assert.Equal(t, "SCAN_NOT_RUNNING", res.Env.Error.Code)
	res = c.send(t, request{Path: "/api/v1/scans/demo-1/start", Body: exampleBody(t, c.doc, "startScan")}, 422, docValid)
	assert.Equal(t, "TIMESTAMP_OUT_OF_ORDER", res.Env.Error.Code)
	c.send(t, request{Path: "/api/v1/scans/demo-1/start"}, 202, docValid)
	c.send(t, request{Path: "/api/v1/scans/bad*id/start"}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans/no-such-scan/start"}, 404, docValid)
	c.send(t, request{Path: "/api/v1/scans/" + otherID + "/fail", Body: exampleBody(t, c.doc, "failScan")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/scans/" + otherID + "/fail", Body: `{}`}, 400, docInvalid)

	raised := c.send(t, request{Path: "/api/v1/scans/demo-1/findings", Body: exampleBody(t, c.doc, "raiseFindings")}, 202, docValid)
	batch := data[api.BatchCommandResult](t, raised)
	require.Len(t, batch.Items, 2)
	c.send(t, request{Path: "/api/v1/scans/demo-1/findings", Body: `{"findings": []}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans/demo-1/findings",
		Body: `{"findings": [{"check_id": "c", "title": "t", "severity": "catastrophic", "resource_id": "r"}]}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/scans/demo-1/findings",
		Body: `{"findings": [{"check_id": "c", "title": "t", "severity": "high", "resource_id": "r", "description": "` +
			strings.Repeat("d", 70<<10) + `"}]}`}, 413, docEither)
	c.send(t, request{Path: "/api/v1/scans/" + otherID + "/findings", Body: exampleBody(t, c.doc, "raiseFindings")}, 422, docValid)
	c.send(t, request{Path: "/api/v1/scans/demo-1/findings", Body: `{"findings": [{"finding_id": "demo-f-2",
		"check_id": "c", "title": "t", "severity": "low", "resource_id": "r"}]}`}, 409, docValid)
	scanB := data[api.CommandResult](t, c.send(t, request{Path: "/api/v1/scans",
		Body: `{"account_id": "1", "provider": "aws", "tool": "trivy"}`, Header: teamB}, 201, docValid)).ID
	c.send(t, request{Path: "/api/v1/scans/" + scanB + "/start", Header: teamB}, 202, docValid)
	res = c.send(t, request{Path: "/api/v1/scans/" + scanB + "/findings", Body: `{"findings": [{"finding_id": "demo-f-2",
		"check_id": "c", "title": "t", "severity": "low", "resource_id": "r"}]}`, Header: teamB}, 409, docValid)
	assert.Equal(t, api.CodeIDInUse, res.Env.Error.Code, "another team's finding id")

	c.send(t, request{Path: "/api/v1/findings/demo-f-2/resolve", Body: exampleBody(t, c.doc, "resolveFinding")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/findings/demo-f-2/resolve"}, 422, docValid)
	c.send(t, request{Path: "/api/v1/findings/" + batch.Items[0].ID + "/suppress", Body: exampleBody(t, c.doc, "suppressFinding")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/findings/no-such-finding/suppress", Body: `{"reason": "r"}`}, 404, docValid)
	c.send(t, request{Path: "/api/v1/findings/demo-f-2/suppress", Body: `{"reason": "r", "until": "tomorrow"}`}, 400, docInvalid)
	// Imports: the before/after pair of a CloudTrail hardening.
	before, after := prowlerReport(t, "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json"), prowlerReport(t, "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json")
	ocsf := "application/vnd.prowler.ocsf+json"
	imp1 := c.send(t, request{Path: "/api/v1/imports?file_name=scan1.ocsf.json", Body: before, ContentType: ocsf}, 202, docValid)
	first := data[cscmd.ImportResult](t, imp1)
	assert.Equal(t, "/api/v1/imports/"+first.ImportID, imp1.Header.Get("Location"))
	again := c.send(t, request{Path: "/api/v1/imports", Body: before, ContentType: "application/json"}, 202, docValid)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, first.ImportID, data[cscmd.ImportResult](t, again).ImportID)
	imp2 := data[cscmd.ImportResult](t, c.send(t, request{Path: "/api/v1/imports?format=json-ocsf", Body: after, ContentType: "application/octet-stream"}, 202, docValid))
	c.send(t, request{Path: "/api/v1/imports", Body: after, ContentType: "image/png"}, 415, docInvalid)
	c.send(t, request{Path: "/api/v1/imports?format=nessus", Body: after, ContentType: ocsf}, 400, docEither)
	unseen := prowlerReport(t, "prowler_v4.2_ocsf_1.2_aws.ocsf.json")
	c.send(t, request{Path: "/api/v1/imports?scan_id=no-such-scan", Body: unseen, ContentType: ocsf}, 404, docValid)
	c.send(t, request{Path: "/api/v1/imports?scan_id=bad/id", Body: after, ContentType: ocsf}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/imports", Body: after, ContentType: ocsf, Header: viewer}, 403, docValid)
	c.send(t, request{Path: "/api/v1/imports", Body: before + strings.Repeat(" ", 256<<10), ContentType: ocsf}, 413, docValid)
	res = c.send(t, request{Path: "/api/v1/imports", Body: `[{"status_code": "MAYBE"}]`, ContentType: ocsf}, 422, docValid)
	assert.Equal(t, api.CodeReportRejected, res.Env.Error.Code)
	assert.NotEmpty(t, res.Header.Get("Location"), "the rejection is recorded and named")
	impPos := fmt.Sprint(imp2.Position)
	c.get(t, "/api/v1/imports?limit=1&min_position="+impPos, 200, docValid)
	c.get(t, "/api/v1/imports/"+imp2.ImportID, 200, docValid)
	c.get(t, "/api/v1/imports/missing", 404, docValid)
	delta := data[orchquery.DeltaList](t, c.get(t, "/api/v1/scans/"+imp2.ScanID+"/delta?change=fixed&limit=2", 200, docValid))
	require.NotEmpty(t, delta.Items)
	c.get(t, "/api/v1/scans/"+imp2.ScanID+"/delta?change=gone", 400, docInvalid)
	complianceContract(t, c, impPos, first.ScanID, imp2.ScanID)
	c.get(t, "/api/v1/scans/missing/delta", 404, docValid)
	history := data[csquery.History](t, c.get(t, "/api/v1/findings/"+delta.Items[0].FindingID+"/history", 200, docValid))
	assert.Equal(t, []string{"raised", "fixed"}, qtKinds(history))
	c.get(t, "/api/v1/findings/missing/history", 404, docValid)
	c.get(t, "/api/v1/findings?status=fixed&limit=1", 200, docValid)

	last := c.send(t, request{Path: "/api/v1/scans/demo-1/complete", Body: `{"resource_count": 42}`}, 202, docValid)
	pos := fmt.Sprint(last.Env.Meta.Position)

	// Queries over the projections of all that.
	scans := c.get(t, "/api/v1/scans?limit=1&min_position="+pos, 200, docValid)
	require.Len(t, data[[]json.RawMessage](t, scans), 1)
	require.NotEmpty(t, scans.Env.Meta.NextCursor)
	c.get(t, "/api/v1/scans?limit=1&cursor="+scans.Env.Meta.NextCursor, 200, docValid)
	c.get(t, "/api/v1/scans?status=completed&account_id=123456789012&tool=prowler", 200, docValid, "Authorization", viewer["Authorization"])
	c.get(t, "/api/v1/scans?limit=0", 400, docInvalid)
	c.get(t, "/api/v1/scans?status=", 400, docInvalid)
	c.get(t, "/api/v1/scans?stauts=running", 400, docEither)
	c.get(t, "/api/v1/scans?cursor=not-a-cursor", 400, docEither)
	c.get(t, "/api/v1/scans", 401, docInvalid, "Authorization", "-")
	detail := c.get(t, "/api/v1/scans/demo-1", 200, docValid, api.HeaderMinPosition, pos)
	assert.Contains(t, string(detail.Data), `"status":"completed"`)
	c.get(t, "/api/v1/scans/missing", 404, docValid)
	res = c.get(t, "/api/v1/scans/missing?min_position=1000000", 404, docValid)
	assert.True(t, res.Env.Meta.Stale, "not projected yet, perhaps: %s", res.Raw)
	c.get(t, "/api/v1/scans/demo-1?min_position=-1", 400, docInvalid)
	findings := c.get(t, "/api/v1/findings?severity=high,critical&status=suppressed&scan_id=demo-1&account_id=123456789012", 200, docValid)
	assert.Len(t, data[[]json.RawMessage](t, findings), 1)
	c.get(t, "/api/v1/findings?severity=bogus", 400, docInvalid)
	c.get(t, "/api/v1/dashboard/summary?min_position="+pos, 200, docValid)
	c.get(t, "/api/v1/dashboard/summary", 400, docInvalid, api.HeaderMinPosition, "abc")

	// Muting rules, and the triage of imported findings.
	kevContract(t, c)
	indicatorContract(t, c)
	slaContract(t, c)
	securityScansContract(t, c)            // openapi_contract_securityscans_test.go
	assessmentsContract(t, c)              // assessments_fakes_test.go
	biaContract(t, c)                      // openapi_contract_bia_test.go
	riskContract(t, c)                     // openapi_contract_risk_test.go
	dashboardScanEngineContract(t, c, env) // openapi_contract_dashboard_test.go
	integrationsContract(t, c)             // openapi_contract_integrations_test.go
	aiGovernanceContract(t, c)             // aigovernance_fakes_test.go
	knowledgeBaseContract(t, c, env)       // openapi_contract_knowledgebase_test.go
	mutingContract(t, c, env)
	assetsContract(t, c) // openapi_contract_assets_test.go
	accountsContract(t, c, env)
	scanRunsContract(t, c, env) // openapi_contract_scanruns_test.go
	retentionContract(t, c)     // retention_test.go

	// API keys: the key is shown once.
	createKey := request{Path: "/api/v1/keys", Body: exampleBody(t, c.doc, "createKey"),
		Header: map[string]string{"Idempotency-Key": "contract-key-1"}}
	res = c.send(t, createKey, 201, docValid)
	issued := data[api.KeyCreated](t, res)
	require.NotEmpty(t, issued.Key)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	res = c.send(t, createKey, 201, docValid)
	assert.Empty(t, data[api.KeyCreated](t, res).Key, "a replay cannot show the secret again")
	keyPos := fmt.Sprint(res.Env.Meta.Position)
	c.send(t, request{Path: "/api/v1/keys", Body: `{"name": "x", "role": "root"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/keys", Body: `{"name": "x", "role": "viewer"}`,
		Header: map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}}, 403, docValid)
	keys := c.get(t, "/api/v1/keys?limit=10&min_position="+keyPos, 200, docValid)
	assert.Len(t, data[[]json.RawMessage](t, keys), 1)
	c.get(t, "/api/v1/keys?limit=500", 400, docInvalid)
	c.send(t, request{Path: "/api/v1/keys/" + issued.ID + "/revoke", Body: exampleBody(t, c.doc, "revokeKey")}, 202, docValid)
	res = c.send(t, request{Path: "/api/v1/keys/" + issued.ID + "/revoke"}, 422, docValid)
	assert.Equal(t, access.CodeKeyAlreadyRevoked, res.Env.Error.Code)
	c.send(t, request{Path: "/api/v1/keys/abcdefghijklmnop/revoke"}, 404, docValid)

	// Audit.
	logPage := c.get(t, "/api/v1/audit/log?limit=5&min_position="+keyPos, 200, docValid)
	assert.Len(t, data[[]json.RawMessage](t, logPage), 5)
	c.get(t, "/api/v1/audit/log?actor=key:k-admin-team-a&route=POST%20/api/v1/scans", 200, docValid)
	c.get(t, "/api/v1/audit/log?cursor="+logPage.Env.Meta.NextCursor, 200, docValid)
	c.get(t, "/api/v1/audit/log?actor=", 400, docInvalid)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/events", 200, docValid)
	res = c.get(t, "/api/v1/audit/streams/apikey-"+issued.ID+"/events", 200, docValid)
	assert.Contains(t, string(res.Data), `"redacted"`)
	c.get(t, "/api/v1/audit/streams/scan-no-such-scan/events", 404, docValid)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/state", 200, docValid)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/state?version=2", 200, docValid)
	c.get(t, "/api/v1/audit/streams/finding-demo-f-2/state?as_of="+time.Now().Add(time.Second).UTC().Format(time.RFC3339), 200, docValid)
	c.get(t, "/api/v1/audit/streams/apikey-"+issued.ID+"/state", 200, docValid)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/state?version=0", 400, docInvalid)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/state?version=1&as_of=2026-01-02T00:00:00Z", 400, docEither)
	c.get(t, "/api/v1/audit/streams/scan-demo-1/state?as_of=2000-01-01T00:00:00Z", 404, docValid)
	res = c.get(t, "/api/v1/audit/verify", 200, docValid)
	assert.Contains(t, string(res.Data), `"ok":true`)
	c.get(t, "/api/v1/audit/verify", 403, docValid, "Authorization", viewer["Authorization"])

	// Projection administration.
	c.get(t, "/api/v1/projections", 200, docValid)
	c.get(t, "/api/v1/relay", 200, docValid)
	c.get(t, "/api/v1/relay?x=1", 400, docEither)
	c.get(t, "/api/v1/projections?x=1", 400, docEither)
	c.get(t, "/api/v1/projections?min_position=abc", 400, docEither)
	c.send(t, request{Path: "/api/v1/projections/platform.dashboard/rebuild", Body: exampleBody(t, c.doc, "startRebuild")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/projections/all/rebuild"}, 202, docValid)
	c.send(t, request{Path: "/api/v1/projections/nope/rebuild"}, 404, docValid)
	c.send(t, request{Path: "/api/v1/projections/platform.dashboard/rebuild", Body: `{"force": true}`}, 400, docInvalid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/projections/platform.dashboard/rebuild"}, 202, docValid)
	c.send(t, request{Path: "/api/v1/projections/platform.dashboard/parked/retry", Body: exampleBody(t, c.doc, "retryParked")}, 200, docValid)
	c.send(t, request{Path: "/api/v1/projections/platform.dashboard/parked/skip", Body: exampleBody(t, c.doc, "skipParked")}, 200, docValid)
	c.send(t, request{Path: "/api/v1/projections/platform.dashboard/parked/skip", Body: `{"position": -2}`}, 400, docInvalid)
	for _, tt := range []struct {
		err    error
		req    request
		status int
	}{
		{fmt.Errorf("x: %w", api.ErrRebuildInProgress), request{Path: "/api/v1/projections/all/rebuild"}, 409},
		{api.ErrNoRebuild, request{Method: http.MethodDelete, Path: "/api/v1/projections/all/rebuild"}, 404},
		{api.ErrNotParked, request{Path: "/api/v1/projections/platform.dashboard/parked/skip", Body: `{"position": 3}`}, 404},
		{&api.RetryError{Applied: 1, Err: errors.New("position 9: boom")}, request{Path: "/api/v1/projections/platform.dashboard/parked/retry"}, 422},
		{api.ErrProjectorUnavailable, request{Path: "/api/v1/projections/platform.dashboard/parked/retry"}, 503},
	} {
		env.admin.setErr(tt.err)
		c.send(t, tt.req, tt.status, docValid)
	}
	env.admin.setErr(nil)

	// Vulnerabilities: a Trivy report through the same import route
	// (detected), then its image, occurrences and catalog entry.
	trivyReport, err := os.ReadFile(filepath.Join("..", "platform", "parsers", "trivy", "testdata", "trivy_image_alpine-3.10_registry_with_repodigests.json"))
	require.NoError(t, err)
	tres := c.send(t, request{Path: "/api/v1/imports?file_name=alpine.json", Body: string(trivyReport), ContentType: "application/json"}, 202, docValid)
	timp := data[cscmd.ImportResult](t, tres)
	assert.Equal(t, "/api/v1/images/"+timp.ArtifactID, tres.Header.Get("Location"))
	require.NotNil(t, timp.ScanCounts)
	assert.Equal(t, 4, timp.ScanCounts.Occurrences)
	tpos := strconv.FormatInt(timp.Position, 10)
	c.send(t, request{Path: "/api/v1/imports?scan_id=" + otherID, Body: string(trivyReport), ContentType: "application/json"}, 400, docEither)
	images := data[[]vulnquery.Image](t, c.get(t, "/api/v1/images?min_position="+tpos, 200, docValid))
	require.Len(t, images, 1)
	c.get(t, "/api/v1/images?kind=fs&eosl=true", 200, docValid)
	c.get(t, "/api/v1/images?kind=container", 400, docEither)
	img := data[vulnquery.ImageDetail](t, c.get(t, "/api/v1/images/"+images[0].ImageID, 200, docValid))
	assert.Len(t, img.OpenOccurrences, 4)
	c.get(t, "/api/v1/images/sha256:0000", 404, docValid)
	occs := data[[]vulnquery.Occurrence](t, c.get(t, "/api/v1/vulnerabilities?severity=medium&has_fix=true&kev=false&status=open", 200, docValid))
	require.NotEmpty(t, occs)
	c.get(t, "/api/v1/vulnerabilities?kev=maybe", 400, docEither)
	c.get(t, "/api/v1/vulnerabilities?severity=severe", 400, docEither)
	c.get(t, "/api/v1/vulnerabilities/"+occs[0].VulnerabilityID, 200, docValid)
	c.get(t, "/api/v1/vulnerabilities/CVE-1999-0001", 404, docValid)

	// Crypto-shredding: forget a subject (path-escaped), twice; a blank one is a 400.
	admin := map[string]string{"Authorization": "Bearer " + testKey(access.Admin, "team-a")}
	forgot := data[api.ForgetResult](t, c.send(t, request{Path: "/api/v1/privacy/subjects/Alice%40Example.com/forget", Header: admin}, 202, docValid))
	assert.NotContains(t, forgot.StreamID, "alice")
	forgotAgain := data[api.ForgetResult](t, c.send(t, request{Path: "/api/v1/privacy/subjects/alice@example.com/forget", Header: admin}, 202, docValid))
	assert.Equal(t, forgot.SubjectID, forgotAgain.SubjectID, "the subject is normalized")
	assert.False(t, forgotAgain.KeyExisted)
	c.send(t, request{Path: "/api/v1/privacy/subjects/%20%20/forget", Header: admin}, 400, docEither)

	c.requireEveryOperationSucceeded(t)
}

// The answers of the guard and the middleware, which need a server of
// their own: rate limit, authentication down, not ready, timeout, panic.
func TestOpenAPIContractFailures(t *testing.T) {
	t.Parallel()
	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		env := newContractEnv(t, func(c *api.ServerConfig, _ *api.Deps) { c.RateLimit, c.RateBurst = 0.01, 1 })
		c := newContract(t, env.srv.Handler())
		c.get(t, "/api/v1/scans", 200, docValid)
		res := c.get(t, "/api/v1/scans", 429, docValid)
		assert.NotEmpty(t, res.Header.Get("Retry-After"))
	})
	t.Run("503 when authentication is down", func(t *testing.T) {
		t.Parallel()
		env := newContractEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
			d.Auth = api.AuthenticatorFunc(func(context.Context, string) (access.Principal, error) {
				return access.Principal{}, errors.New("key store: connection refused")
			})
		})
		c := newContract(t, env.srv.Handler())
		res := c.get(t, "/api/v1/findings", 503, docValid)
		assert.Equal(t, api.CodeUnavailable, res.Env.Error.Code)
	})
	t.Run("503 not ready", func(t *testing.T) {
		t.Parallel()
		env := newContractEnv(t, func(_ *api.ServerConfig, d *api.Deps) {
			d.Readiness = append(d.Readiness, api.ReadinessCheck("bus", func(context.Context) error { return errors.New("down") }))
		})
		c := newContract(t, env.srv.Handler())
		res := c.get(t, "/readyz", 503, docValid)
		assert.Equal(t, api.CodeNotReady, res.Env.Error.Code)
		c.send(t, request{Method: http.MethodHead, Path: "/readyz"}, 503, docValid)
	})
	t.Run("504 and 500", func(t *testing.T) {
		t.Parallel()
		env := newFakeEnv(t, func(c *api.ServerConfig, _ *api.Deps) { c.RequestTimeout = 20 * time.Millisecond })
		c := newContract(t, env.srv.Handler())
		env.cmds.mu.Lock()
		env.cmds.waitCtx = true
		env.cmds.mu.Unlock()
		res := c.send(t, request{Path: "/api/v1/scans/s1/start"}, 504, docValid)
		assert.Equal(t, api.CodeTimeout, res.Env.Error.Code)
		env.cmds.mu.Lock()
		env.cmds.waitCtx, env.cmds.panicWith = false, "boom"
		env.cmds.mu.Unlock()
		res = c.send(t, request{Path: "/api/v1/scans/s1/start"}, 500, docValid)
		assert.Equal(t, api.CodeInternal, res.Env.Error.Code)
	})
}

// The docs page and its assets: no CDN, cacheable, compressed.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	h := env.srv.Handler()
	page := serve(t, h, request{Method: http.MethodGet, Path: "/docs", Header: map[string]string{"Authorization": "-"}})
	require.Equal(t, http.StatusOK, page.Status)
	assert.Equal(t, "text/html; charset=UTF-8", page.Header.Get("Content-Type"))
	assert.Contains(t, page.Header.Get("Content-Security-Policy"), "script-src 'self'")
	assert.NotContains(t, string(page.Raw), "http", "no CDN: everything comes from this server")
	assert.NotContains(t, string(page.Raw), "<script>", "no inline script")
	i := strings.Index(string(page.Raw), `src="docs?asset=redoc.standalone.js&amp;v=`)
	require.Positive(t, i)
	script := "/" + strings.ReplaceAll(strings.SplitN(string(page.Raw[i+len(`src="`):]), `"`, 2)[0], "&amp;", "&")

	plain := serve(t, h, request{Method: http.MethodGet, Path: script})
	require.Equal(t, http.StatusOK, plain.Status)
	assert.Equal(t, "text/javascript; charset=utf-8", plain.Header.Get("Content-Type"))
	assert.Contains(t, plain.Header.Get("Cache-Control"), "max-age=31536000")
	assert.Greater(t, len(plain.Raw), 500_000)
	assert.True(t, bytes.HasPrefix(plain.Raw, []byte("/*! For license information please see redoc.standalone.js.LICENSE.txt */")))

	gz := serve(t, h, request{Method: http.MethodGet, Path: script, Header: map[string]string{"Accept-Encoding": "br, gzip"}})
	require.Equal(t, http.StatusOK, gz.Status)
	assert.Equal(t, "gzip", gz.Header.Get("Content-Encoding"))
	assert.Less(t, len(gz.Raw), len(plain.Raw)/2)
	assert.NotEqual(t, plain.Header.Get("ETag"), gz.Header.Get("ETag"))

	again := serve(t, h, request{Method: http.MethodGet, Path: script, Header: map[string]string{"If-None-Match": plain.Header.Get("ETag")}})
	assert.Equal(t, http.StatusNotModified, again.Status)
	assert.Empty(t, again.Raw)
	noGzip := serve(t, h, request{Method: http.MethodGet, Path: script, Header: map[string]string{"Accept-Encoding": "gzip;q=0"}})
	assert.Empty(t, noGzip.Header.Get("Content-Encoding"))

	for _, name := range []string{"LICENSE", "redoc.standalone.js.LICENSE.txt"} {
		res := serve(t, h, request{Method: http.MethodGet, Path: "/docs?asset=" + name})
		require.Equal(t, http.StatusOK, res.Status, name)
		assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
		assert.Contains(t, string(res.Raw), "MIT", name)
	}
	assert.True(t, slices.ContainsFunc(env.srv.Routes(), func(r api.Route) bool { return r.Key() == "GET /docs" && r.Public }))
}

// prowlerReport is one of the Prowler parser's test reports.
func prowlerReport(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "platform", "parsers", "prowler", "testdata", name))
	require.NoError(t, err)
	return string(b)
}

func qtKinds(h csquery.History) []string {
	out := make([]string, len(h.Transitions))
	for i, tr := range h.Transitions {
		out[i] = tr.Kind
	}
	return out
}
