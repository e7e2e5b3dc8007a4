package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/probes"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// importProbe runs a built-in tool on target and imports its report over
// HTTP; it returns the import, the scan's delta and the report.
func (a *testApp) importProbe(t *testing.T, tool, target string) (cscmd.ImportResult, orchquery.DeltaCounts, []byte) {
	t.Helper()
	var report bytes.Buffer
	require.NoError(t, probes.Builtins(probes.Options{})[tool](t.Context(), target, &report))
	var res cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports?format=cspm-probe-json", json.RawMessage(report.Bytes())), http.StatusAccepted).data(t, &res)
	require.Equal(t, "completed", res.Status, "%+v", res)
	var d orchquery.DeltaList
	must(t, a.get(t, fmt.Sprintf("/api/v1/scans/%s/delta?limit=100&min_position=%d", url.PathEscape(res.ScanID), res.Position)), http.StatusOK).data(t, &d)
	return res, d.Counts, report.Bytes()
}

// A site probed by the built-in headers check, its report imported over
// HTTP: the failures are findings; probed again, nothing changes; with
// the missing header added, that finding is fixed and no other.
func TestProbeReport_ImportLifecycle(t *testing.T) {
	t.Parallel()
	var fixed atomic.Bool
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fixed.Load() {
			w.Header().Set("X-Content-Type-Options", "nosniff")
		}
		w.Header().Add("Set-Cookie", "sid=1; HttpOnly; SameSite=Lax") // not Secure
		_, _ = w.Write([]byte("hello"))
	}))
	defer site.Close()
	a := startApp(t, nil)
	sev := func(medium, low int64) queries.SeverityCounts {
		return queries.SeverityCounts{Medium: medium, Low: low}
	}

	// hsts, csp, frame_options, cookie_secure (medium); content_type_options,
	// referrer_policy, permissions_policy (low).
	first, d1, _ := a.importProbe(t, "headers", site.URL)
	assert.Equal(t, "cspm-probe", first.Tool)
	assert.Equal(t, "cspm-probe-json", first.Format)
	assert.Equal(t, orchquery.DeltaCounts{New: sev(4, 3), Failing: sev(4, 3)}, d1)

	var open []csquery.Finding
	must(t, a.get(t, fmt.Sprintf("/api/v1/findings?status=open&min_position=%d", first.Position)), http.StatusOK).data(t, &open)
	require.Len(t, open, 7)
	target := site.URL + "/"
	for _, f := range open {
		assert.Equal(t, "web", f.Provider)
		assert.Equal(t, target, f.AccountID)
		if f.CheckID == "cookie_secure" {
			assert.Equal(t, "cookie:sid", f.ResourceID)
		} else {
			assert.Equal(t, target, f.ResourceID)
		}
	}

	second, d2, report := a.importProbe(t, "headers", site.URL)
	assert.NotEqual(t, first.ImportID, second.ImportID, "another report")
	assert.Equal(t, orchquery.DeltaCounts{Unchanged: sev(4, 3), Failing: sev(4, 3)}, d2, "probed again: unchanged")

	// The same report again (detected, not named): that import's answer,
	// nothing appended.
	head := a.head(t)
	var again cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", json.RawMessage(report)), http.StatusAccepted).data(t, &again)
	assert.True(t, again.Duplicate)
	assert.Equal(t, second.ImportID, again.ImportID)
	assert.Equal(t, head, a.head(t), "nothing appended")

	fixed.Store(true)
	third, d3, _ := a.importProbe(t, "headers", site.URL)
	assert.Equal(t, orchquery.DeltaCounts{Fixed: sev(0, 1), Unchanged: sev(4, 2), Failing: sev(4, 2)}, d3)
	var closed []csquery.Finding
	must(t, a.get(t, fmt.Sprintf("/api/v1/findings?status=fixed&min_position=%d", third.Position)), http.StatusOK).data(t, &closed)
	require.Len(t, closed, 1)
	assert.Equal(t, "content_type_options", closed[0].CheckID)
	assert.Equal(t, third.ScanID, closed[0].ClosedByScan)

	// The TLS check of the same server: the test certificate is not
	// trusted by the system roots, and its IP SAN names 127.0.0.1.
	tlsImp, d4, _ := a.importProbe(t, "tls", site.Listener.Addr().String())
	assert.Equal(t, "cspm-probe", tlsImp.Tool)
	assert.Positive(t, d4.New.Sum())
	var tlsFindings []csquery.Finding
	must(t, a.get(t, fmt.Sprintf("/api/v1/findings?status=open&min_position=%d", tlsImp.Position)), http.StatusOK).data(t, &tlsFindings)
	checks := map[string]bool{}
	for _, f := range tlsFindings {
		if f.Provider == "tls" {
			assert.Equal(t, site.Listener.Addr().String(), f.AccountID)
			checks[f.CheckID] = true
		}
	}
	assert.True(t, checks["cert_chain_valid"], "%v", checks)
	assert.False(t, checks["cert_hostname"], "%v", checks)
	assert.False(t, checks["protocol_sslv3"], "not checked: no finding")
}
