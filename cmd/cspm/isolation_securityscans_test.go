package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

// isolationSecurityScans imports, as team A, an SSLyze report and returns
// the ways team A's target is named in /api/v1/targets/{target}: its id
// and its host:port (the isolation test, isolation_test.go), and the
// import's id.
func isolationSecurityScans(t *testing.T, a *testApp, as []string) (targets []string, importID string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "sslyze", "testdata", "sslyze_5.0.1_one_target_many_vuln_trimmed.json"))
	require.NoError(t, err)
	var res cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports?format=sslyze-json", json.RawMessage(raw), as...), http.StatusAccepted).data(t, &res)
	var list []ssquery.Target
	eventually(t, 30*time.Second, "the SSLyze import is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/targets?min_position="+itoa(res.Position), nil, as...)
		ans.data(t, &list)
		return !stale(ans) && len(list) == 1
	})
	return []string{list[0].ID, list[0].Target}, res.ImportID
}
