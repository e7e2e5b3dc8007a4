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
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// isolationAssetsWorld imports a Steampipe inventory in team A (as) and
// returns team A's asset ids (the inventory's and the findings' assets)
// and its import's id.
func isolationAssetsWorld(t *testing.T, a *testApp, as []string) (assets []string, importID string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "steampipe", "testdata", "ours_envelope_aws_s3_bucket.json"))
	require.NoError(t, err)
	var res cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports?format=steampipe-json&table=aws_s3_bucket&sync=complete", json.RawMessage(raw), as...), http.StatusAccepted).data(t, &res)
	var list []caquery.Asset
	eventually(t, 30*time.Second, "the inventory is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/assets?limit=200&min_position="+itoa(res.Position), nil, as...)
		ans.data(t, &list)
		return !stale(ans)
	})
	require.GreaterOrEqual(t, len(list), 3)
	for _, x := range list {
		assets = append(assets, x.ID)
	}
	return assets, res.ImportID
}
