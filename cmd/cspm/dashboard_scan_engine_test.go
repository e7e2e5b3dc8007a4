package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/config"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// shortLivedTLSServer is a TLS server whose self-signed certificate for
// 127.0.0.1 expires in validFor.
func shortLivedTLSServer(t *testing.T, validFor time.Duration) (*httptest.Server, time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	notAfter := time.Now().Add(validFor).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(79), Subject: pkix.Name{CommonName: "short-lived.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, notAfter
}

// The dashboard's scan-engine section through the server: a scan run
// whose jobs the in-process worker runs (one stand-in tool still running,
// one writing a broken report: failed), the built-in TLS probe's report of
// a server whose certificate expires in 10 days, and an SSLyze report
// whose certificates expired years ago (valid when scanned: expired now).
// GET /api/v1/dashboard/summary shows the running and failed jobs and the
// certificates expiring and expired; another team sees none of it.
func TestDashboardScanEngine_ThroughTheServer(t *testing.T) {
	t.Parallel()
	tools := filepath.Join(t.TempDir(), "tools.yaml")
	require.NoError(t, os.WriteFile(tools, []byte(`tools:
  slow:
    command: ["sleep", "300"]
    timeout: 120s
  broken:
    command: ["sh", "-c", "printf '{\"Findings\": [' > {out}"]
    format: prowler-ocsf
`), 0o600))
	a := startAppWith(t, func(c *config.Config) {
		c.WorkerTools = tools
		c.JobLease = 2 * time.Second
	})
	viewerB := issueTestKey(t, a, "team-b", "viewer")

	must(t, a.call(t, http.MethodPost, "/api/v1/scan-runs", map[string]any{"scan_id": "dash-run", "account_id": "web", "provider": "other",
		"tools": []string{"slow", "broken"}, "targets": []string{"https://shop.example.com"}}), http.StatusCreated)

	srv, notAfter := shortLivedTLSServer(t, 10*24*time.Hour)
	probe, _, _ := a.importProbe(t, "tls", srv.Listener.Addr().String())
	raw, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "sslyze", "testdata", "sslyze_5.0.1_one_target_many_vuln_trimmed.json"))
	require.NoError(t, err)
	var sslyze cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports?format=sslyze-json", json.RawMessage(raw)), http.StatusAccepted).data(t, &sslyze)

	var dash platformquery.Dashboard
	eventually(t, 60*time.Second, "a job runs and one failed", func() bool {
		ans := a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", max(probe.Position, sslyze.Position)))
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &dash)
		j := dash.ScanEngine.Jobs
		return j.RunningByStatus.Running == 1 && j.FailedTotal == 1
	})
	j := dash.ScanEngine.Jobs
	require.Len(t, j.Running, 1)
	assert.Equal(t, "slow", j.Running[0].Tool)
	assert.Equal(t, "dash-run", j.Running[0].ScanID)
	assert.Equal(t, "https://shop.example.com", j.Running[0].Target)
	assert.NotEmpty(t, j.Running[0].Worker)
	require.Len(t, j.Failed, 1)
	assert.Equal(t, "broken", j.Failed[0].Tool)
	assert.Equal(t, "failed", j.Failed[0].Status)
	assert.NotEmpty(t, j.Failed[0].Error, "why the import was rejected")

	c := dash.ScanEngine.Certificates
	require.Len(t, c.Expiring, 1)
	assert.Equal(t, srv.Listener.Addr().String(), c.Expiring[0].Target)
	assert.Equal(t, notAfter, c.Expiring[0].NotAfter.UTC())
	assert.Equal(t, []string{"cspm-probe"}, c.Expiring[0].Tools)
	assert.Equal(t, "expiring", c.Expiring[0].Status)
	assert.Equal(t, int64(1), c.ExpiringTotal)
	assert.Positive(t, c.ExpiredTotal)
	require.NotEmpty(t, c.Expired)
	for _, e := range c.Expired {
		assert.Equal(t, "expired", e.Status)
		assert.Equal(t, []string{"sslyze"}, e.Tools)
	}

	var b platformquery.Dashboard
	must(t, a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", a.head(t)), "Authorization", "Bearer "+viewerB.Key), http.StatusOK).data(t, &b)
	assert.Zero(t, b.ScanEngine.Jobs.RunningTotal+b.ScanEngine.Jobs.FailedTotal)
	assert.Zero(t, b.ScanEngine.Certificates.ExpiredTotal+b.ScanEngine.Certificates.ExpiringTotal)

	// Cancelled, the run's running job stops and leaves the list.
	must(t, a.call(t, http.MethodPost, "/api/v1/scan-runs/dash-run/cancel", map[string]any{}), http.StatusAccepted)
	eventually(t, 60*time.Second, "the cancelled job leaves the running list", func() bool {
		ans := a.get(t, fmt.Sprintf("/api/v1/dashboard/summary?min_position=%d", a.head(t)))
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &dash)
		return dash.ScanEngine.Jobs.RunningTotal == 0
	})
	assert.Equal(t, int64(1), dash.ScanEngine.Jobs.FailedTotal, "a cancelled job is no failure")
}
