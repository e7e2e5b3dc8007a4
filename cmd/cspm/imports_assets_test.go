package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// `cspm import` of Steampipe inventories: a complete sync of three
// buckets, then one that no longer lists one (it is removed), then a
// result of zero rows (nothing is removed); the Prowler report's
// resources are assets too.
func TestImportCLI_SteampipeInventory(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	dir := t.TempDir()
	envelope, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "steampipe", "testdata", "ours_envelope_aws_s3_bucket.json"))
	require.NoError(t, err)
	first := filepath.Join(dir, "buckets-1.json")
	require.NoError(t, os.WriteFile(first, envelope, 0o600))

	r := a.cli(t, nil, "import", first, "--server", a.base, "--format", "steampipe-json", "--table", "aws_s3_bucket", "--sync", "complete")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^imported .*buckets-1.json \(steampipe-json, steampipe, [\d.]+ KiB\) as inv-[0-9a-f]{32}\n`, r.stdout)
	assert.Contains(t, r.stdout, `inventory complete sync of "aws_s3_bucket": 3 rows, 3 assets (0 rows repeated an asset), 2 scopes`)

	// The second sync of us-east-1 lists acme-logs only: acme-old is gone.
	second := filepath.Join(dir, "buckets-2.json")
	body := strings.Replace(string(envelope), `"arn": "arn:aws:s3:::acme-old"`, `"arn": "arn:aws:s3:::acme-logs"`, 1)
	require.NoError(t, os.WriteFile(second, []byte(body), 0o600))
	r = a.cli(t, nil, "import", second, "--server", a.base, "--format", "steampipe", "--table", "aws_s3_bucket", "--sync", "complete")
	require.Equal(t, exitOK, r.code, r.stderr)
	zero := filepath.Join("..", "..", "platform", "parsers", "steampipe", "testdata", "ours_envelope_zero_rows.json")
	r = a.cli(t, nil, "import", zero, "--server", a.base, "--table", "aws_s3_bucket", "--sync", "complete")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = a.cli(t, nil, "import", prowlerTestdata(pairBefore), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)

	var removed, buckets []caquery.Asset
	must(t, a.get(t, fmt.Sprintf("/api/v1/assets?status=removed&min_position=%d", a.head(t))), 200).data(t, &removed)
	require.Len(t, removed, 1)
	assert.Equal(t, "acme-old", removed[0].Name)
	must(t, a.get(t, "/api/v1/assets?type=aws_s3_bucket&status=present"), 200).data(t, &buckets)
	assert.Len(t, buckets, 2, "the zero-row result removed nothing")
	var all []caquery.Asset
	must(t, a.get(t, "/api/v1/assets?limit=200"), 200).data(t, &all)
	assert.Greater(t, len(all), 3, "the Prowler report's resources are assets")

	// A table with a findings report is a usage error of the server (400)
	r = a.cli(t, nil, "import", prowlerTestdata(pairAfter), "--server", a.base, "--table", "aws_s3_bucket")
	assert.NotEqual(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "table")
}
