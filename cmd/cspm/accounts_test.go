package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/sqlitedb"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// importFile imports a Prowler test report through `cspm import` and
// returns the import's result.
func (a *testApp) importFile(t *testing.T, name string) cscmd.ImportResult {
	t.Helper()
	r := a.cli(t, nil, "import", prowlerTestdata(name), "--server", a.base, "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var res cscmd.ImportResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
	return res
}

// accounts lists the team's accounts once the accounts read model has
// passed position.
func (a *testApp) accounts(t *testing.T, position int64) []csquery.Account {
	t.Helper()
	var out []csquery.Account
	must(t, a.get(t, "/api/v1/accounts?min_position="+itoa(position)), http.StatusOK).data(t, &out)
	return out
}

// The same account in two reports of different formats (Prowler OCSF and
// CSV of one AWS account) is one account, first seen in the first import.
func TestAccounts_SameAccountFromTwoReports(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	a.importFile(t, "prowler_v5.4_ocsf_aws_placeholders.ocsf.json")
	res := a.importFile(t, "prowler_v5.4_csv_aws_placeholders.csv")
	list := a.accounts(t, res.Position)
	require.Len(t, list, 1, "%+v", list)
	assert.Equal(t, csdomain.AccountID(a.cfg.DefaultTeam, "aws", "<account_uid>"), list[0].ID)
	assert.Equal(t, "aws", list[0].Provider)
	assert.Equal(t, "<account_uid>", list[0].UID)
	assert.Len(t, list[0].Trend, 2, "two scans")
}

// The legacy accounts collection of the platform this backend serves is
// never written: after imports and every account command, no module
// database holds it, and the accounts are in enhanced_cloud_accounts.
func TestLegacyCloudAccountsAreNeverWritten(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	a.importFile(t, pairBefore)
	res := a.importFile(t, "prowler_v5.4_ocsf_gcp_placeholders.ocsf.json")
	seen := csdomain.AccountID(a.cfg.DefaultTeam, "gcp", "<project_id>")
	var reg struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	must(t, a.post(t, "/api/v1/accounts", map[string]any{"provider": "azure", "uid": "sub-1", "name": "subscription"}), http.StatusCreated).data(t, &reg)
	must(t, a.post(t, "/api/v1/accounts/"+reg.ID+"/tag", map[string]any{"tags": map[string]string{"env": "prod"}}), http.StatusAccepted)
	a.accounts(t, res.Position)
	must(t, a.post(t, "/api/v1/accounts/"+seen+"/rename", map[string]any{"name": "project"}), http.StatusAccepted)
	must(t, a.post(t, "/api/v1/accounts/"+seen+"/retire", map[string]any{"reason": "closed"}), http.StatusAccepted)
	list := a.accounts(t, a.head(t))
	require.Len(t, list, 3)
	byID := map[string]csquery.Account{}
	for _, acc := range list {
		byID[acc.ID] = acc
	}
	assert.Equal(t, "project", byID[seen].Name)
	assert.Equal(t, "retired", byID[seen].Status)
	assert.Equal(t, map[string]string{"tag": "test", "tag2": "test2"}, byID[seen].Tags, "the report's account labels")
	assert.Equal(t, "<tenant_uid>", byID[seen].Organization, "cloud.org's uid (else its name)")

	tables := map[string][]string{}
	files, err := filepath.Glob(filepath.Join(a.cfg.DataDir, "*.sqlite"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		db, err := sqlitedb.OpenReadOnly(context.Background(), f, sqlitedb.Config{})
		require.NoError(t, err)
		rows, err := db.Read.QueryContext(context.Background(), `SELECT name FROM sqlite_master WHERE type = 'table'`)
		require.NoError(t, err)
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			tables[filepath.Base(f)] = append(tables[filepath.Base(f)], name)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.NoError(t, db.Close())
	}
	for file, names := range tables {
		for _, n := range names {
			assert.NotEqual(t, "cloud_accounts", n, "%s holds the legacy collection", file)
		}
	}
	assert.Contains(t, tables["cspm_cloud_security.sqlite"], "enhanced_cloud_accounts")
}

// No code names the legacy collection: only this file does (and the
// database registry's description of cspm_cloud_security, and the docs),
// and the legacy import, which reads it from the legacy platform's
// database, once, to merge it into accounts (docs/legacy-import.md): it
// never writes it nor reads it from this platform's databases.
func TestNoCodeNamesTheLegacyAccountsCollection(t *testing.T) {
	t.Parallel()
	legacy := regexp.MustCompile(`(^|[^A-Za-z0-9_])cloud_accounts([^A-Za-z0-9_]|$)`)
	allowed := []string{"cmd/cspm/accounts_test.go", "platform/dbregistry/registry.go", "platform/dbregistry/registry_test.go",
		"platform/parsers/legacy/types.go", "platform/parsers/legacy/legacy_test.go", "cmd/cspm/legacyimport_test.go", "cmd/cspm/legacyimport_ferretdb_test.go"}
	root := filepath.Join("..", "..")
	var named []string
	walked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// The root itself is "../..": a dot name, not a hidden directory.
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".yaml", ".yml", ".json", ".sql", ".js", ".sh":
		default:
			return nil
		}
		walked++
		if slices.Contains(allowed, rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if legacy.Match(b) {
			named = append(named, rel)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, walked, 100, "the walk read the repository's files")
	assert.Empty(t, named, "these files name the legacy accounts collection (use enhanced_cloud_accounts)")
}
