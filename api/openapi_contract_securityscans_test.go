package api_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

func scannerReport(t *testing.T, tool, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "platform", "parsers", tool, "testdata", name))
	require.NoError(t, err)
	return string(b)
}

// securityScansContract imports an SSLyze and a testssl.sh report, lists
// the targets and reads one's results; another team sees none of it
// (called by TestOpenAPIContract).
func securityScansContract(t *testing.T, c *contract) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	res := data[cscmd.ImportResult](t, c.send(t, request{Path: "/api/v1/imports?format=sslyze-json",
		Body: scannerReport(t, "sslyze", "sslyze_5.0.1_one_target_many_vuln_trimmed.json"), ContentType: "application/json"}, 202, docValid))
	assert.Equal(t, "sslyze", res.Tool)
	ts := data[cscmd.ImportResult](t, c.send(t, request{Path: "/api/v1/imports",
		Body: scannerReport(t, "testssl", "ours_testssl_3.2_flat_fatal_and_ok_cves.json"), ContentType: "application/json"}, 202, docValid))
	assert.Len(t, ts.Problems, 2)
	pos := strconv.FormatInt(ts.Position, 10)

	list := data[[]ssquery.Target](t, c.send(t, request{Method: "GET", Path: "/api/v1/targets?provider=tls&min_position=" + pos, Header: viewer}, 200, docValid))
	require.Len(t, list, 3) // down.example:443 (a FATAL row only), example.com:443, ok.example:443
	assert.Equal(t, "example.com:443", list[1].Target)
	got := data[ssquery.TargetResults](t, c.send(t, request{Method: "GET", Path: "/api/v1/targets/" + list[1].ID + "/results", Header: viewer}, 200, docValid))
	assert.Len(t, got.OpenFindings, 3+1) // three failing results; the certificate expired in 2022: the clock's finding
	require.Len(t, got.Certificates, 1)
	assert.Equal(t, "expired", got.Certificates[0].Status)
	// A plain host:port names the target too.
	c.send(t, request{Method: "GET", Path: "/api/v1/targets/ok.example:443/results", Header: viewer}, 200, docValid)

	c.send(t, request{Method: "GET", Path: "/api/v1/targets/" + list[1].ID + "/results", Header: viewerB}, 404, docValid)
	other := data[[]ssquery.Target](t, c.send(t, request{Method: "GET", Path: "/api/v1/targets", Header: viewerB}, 200, docValid))
	assert.Empty(t, other)
	c.send(t, request{Method: "GET", Path: "/api/v1/targets?provider=ftp"}, 400, docEither)
}
