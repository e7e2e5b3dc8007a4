package legacy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/legacy"
)

// loadSeed reads testdata/seed as `cspm import-legacy --from-dir` would.
func loadSeed(t *testing.T, opts legacy.Options) legacy.Dataset {
	t.Helper()
	l := legacy.NewLoader(opts)
	files, err := filepath.Glob("testdata/seed/*.json")
	require.NoError(t, err)
	require.Len(t, files, 5)
	for _, p := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(p), ".json"), ".")
		require.Len(t, parts, 2, p)
		f, err := os.Open(p)
		require.NoError(t, err)
		_, err = l.ReadFile(parts[0], parts[1], f)
		require.NoError(t, err, p)
		require.NoError(t, f.Close())
	}
	return l.Dataset()
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func reasons(ds legacy.Dataset) map[string]string {
	out := map[string]string{}
	for _, p := range ds.Problems {
		key := p.Collection + "#" + strings.TrimSpace(p.ID)
		if p.ID == "" {
			key = p.Collection + "@" + string(rune('0'+p.Index))
		}
		out[key] = p.Reason
	}
	return out
}

func TestSeed_ReadsEveryCollectionAndReportsTheBadDocuments(t *testing.T) {
	ds := loadSeed(t, legacy.Options{DefaultTeam: "team-default"})

	assert.Equal(t, map[string]int{"users": 4, "cloud_accounts": 4, "enhanced_cloud_accounts": 3, "scan_runs": 5, "findings": 8}, ds.Read)
	assert.Len(t, ds.Users, 3)
	assert.Len(t, ds.Accounts, 4)
	assert.Len(t, ds.ScanRuns, 3)
	assert.Len(t, ds.Findings, 5) // the orphan parses: the import, which knows the scans, skips it

	r := reasons(ds)
	assert.Equal(t, "email: missing", r["users#64b7f0a1c2d3e4f5a6b7c803"])
	assert.Equal(t, "provider: missing", r["cloud_accounts#64b7f1000000000000000004"])
	assert.Equal(t, "name: is a document, not text", r["enhanced_cloud_accounts#64b7f2000000000000000003"])
	assert.Contains(t, r["scan_runs#64b7f3000000000000000004"], `status: "exploded" is not a scan status`)
	assert.Contains(t, r["scan_runs@4"], "not a document in Extended JSON")
	assert.Contains(t, r["findings#64b7f4000000000000000005"], `severity: "apocalyptic"`)
	assert.Equal(t, "no _id", r["findings@6"])
	assert.Contains(t, r["findings#64b7f4000000000000000001"], "duplicate _id: already read from cspm_cloud_security.findings document 0")
	assert.Len(t, ds.Problems, 8)
	for _, p := range ds.Problems {
		assert.NotEmpty(t, p.Collection)
		assert.NotEmpty(t, p.Database)
	}
}

func TestSeed_LegacyAndEnhancedAccountsMergedEnhancedWinning(t *testing.T) {
	ds := loadSeed(t, legacy.Options{})
	byKey := map[string]legacy.CloudAccount{}
	for _, a := range ds.Accounts {
		byKey[a.Provider+"/"+a.AccountID] = a
	}
	prod := byKey["aws/123456789012"]
	require.Len(t, prod.Sources, 2, "one account from both collections")
	assert.Equal(t, "cloud_accounts", prod.Sources[0].Collection)
	assert.Equal(t, "enhanced_cloud_accounts", prod.Sources[1].Collection)
	assert.Equal(t, "production", prod.Name, "enhanced wins")
	assert.Equal(t, "Acme", prod.Organization, "legacy fills what enhanced lacks")
	assert.Equal(t, "active", prod.Status)
	assert.Equal(t, map[string]string{"env": "production", "owner": "alice", "cost-center": "42"}, prod.Tags, "tags merged key by key, enhanced winning")
	assert.Equal(t, []string{"eu-central-1", "eu-west-1"}, prod.Regions)
	assert.Equal(t, date("2022-03-01T10:00:00Z"), prod.CreatedAt, "the earlier creation")
	assert.Equal(t, date("2024-05-01T00:00:00Z"), prod.UpdatedAt, "the later update")

	assert.Equal(t, "legacy-only", byKey["aws/210987654321"].Name, "a $numberLong account id reads as its digits")
	assert.True(t, byKey["gcp/acme-old-project"].Retired())
	az := byKey["azure/0b1f6471-1bf0-4dda-aec3-cb9272f09590"]
	assert.Equal(t, "azure-dev", az.Name)
	assert.Len(t, az.Sources, 1)
	// Sorted by creation.
	for i := 1; i < len(ds.Accounts); i++ {
		assert.False(t, ds.Accounts[i].CreatedAt.Before(ds.Accounts[i-1].CreatedAt))
	}
}

func TestSeed_TypedDocuments(t *testing.T) {
	ds := loadSeed(t, legacy.Options{DefaultTeam: "team-default"})
	users := map[string]legacy.User{}
	for _, u := range ds.Users {
		users[u.Email] = u
	}
	alice := users["alice.owner@example.com"]
	assert.Equal(t, "Alice Owner", alice.Name)
	assert.True(t, alice.Active)
	assert.Equal(t, time.UnixMilli(1689776289000).UTC(), alice.CreatedAt, "canonical $date/$numberLong")
	assert.Equal(t, "cspm_platform_core", alice.Source.Database, "the parser keeps the name read; the caller maps it")
	assert.False(t, users["bob@example.com"].Active, "$numberInt 0")
	assert.Equal(t, "team-default", users["carol@example.com"].TeamID)
	assert.Equal(t, time.Date(2023, 7, 19, 14, 18, 9, 0, time.UTC), users["carol@example.com"].CreatedAt, "no created_at: the ObjectId's time")

	scans := map[string]legacy.ScanRun{}
	for _, s := range ds.ScanRuns {
		scans[s.ScanID] = s
	}
	assert.Equal(t, 312, scans["legacy-scan-1"].ResourceCount)
	assert.Equal(t, "completed", scans["legacy-scan-1"].Status)
	failed := scans["64b7f3000000000000000002"]
	assert.Equal(t, "failed", failed.Status, "no scan_id: the _id; FAILED lower-cased")
	assert.Equal(t, "credentials expired", failed.Error)
	assert.Equal(t, "running", scans["legacy-scan-3"].Status)

	fs := map[string]legacy.Finding{}
	for _, f := range ds.Findings {
		fs[f.ID] = f
	}
	assert.Equal(t, "critical", fs["64b7f4000000000000000001"].Severity)
	res := fs["64b7f4000000000000000002"]
	assert.Equal(t, "iam_root_mfa", res.CheckID)
	assert.Equal(t, "resolved", res.Status)
	assert.Equal(t, date("2024-03-01T00:00:00Z"), res.ResolvedAt)
	sup := fs["64b7f4000000000000000003"]
	assert.Equal(t, "suppressed", sup.Status)
	assert.Equal(t, "medium", sup.Severity)
	assert.Equal(t, date("2030-01-01T00:00:00Z"), sup.SuppressedUntil)
	assert.Equal(t, "bastion host, reviewed", sup.SuppressedReason)
}

// TestExtendedJSON_CanonicalAndRelaxed: the same document in both modes reads the same.
func TestExtendedJSON_CanonicalAndRelaxed(t *testing.T) {
	canonical := `{"_id":{"$oid":"650000000000000000000001"},"scan_id":"s","team_id":"t","account_id":{"$numberLong":"123"},"tool":"prowler","status":"completed",` +
		`"created_at":{"$date":{"$numberLong":"1704067200000"}},"completed_at":{"$date":{"$numberLong":"1704070800000"}},"resources_scanned":{"$numberDouble":"7.0"}}`
	relaxed := `{"_id":{"$oid":"650000000000000000000001"},"scan_id":"s","team_id":"t","account_id":123,"tool":"prowler","status":"completed",` +
		`"created_at":{"$date":"2024-01-01T00:00:00Z"},"completed_at":{"$date":"2024-01-01T01:00:00Z"},"resources_scanned":7.0}`
	var got []legacy.ScanRun
	for _, in := range []string{canonical, relaxed} {
		l := legacy.NewLoader(legacy.Options{})
		n, err := l.ReadFile("cspm_orchestration", "scan_runs", strings.NewReader(in+"\n"))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		ds := l.Dataset()
		require.Empty(t, ds.Problems)
		require.Len(t, ds.ScanRuns, 1)
		got = append(got, ds.ScanRuns[0])
	}
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, "123", got[0].AccountID)
	assert.Equal(t, 7, got[0].ResourceCount)
	assert.Equal(t, "other", got[0].Provider)
}

// TestReadFile_PrettyLinesAndArrays: mongoexport --pretty (a document over
// several lines) and --jsonArray read the same documents as JSON Lines; a
// broken document amid pretty ones is skipped, the next read.
func TestReadFile_PrettyLinesAndArrays(t *testing.T) {
	doc := func(id string) string {
		return `{"_id":"` + id + `","email":"` + id + `@example.com","team_id":"t"}`
	}
	pretty := "{\n  \"_id\": \"a\",\n  \"email\": \"a@example.com\",\n  \"team_id\": \"t\"\n}\n{\n  \"_id\": \"b\",\n  \"email\": \n{\n  \"_id\": \"c\",\n  \"email\": \"c@example.com\",\n  \"team_id\": \"t\"\n}\n"
	cases := map[string]struct {
		in       string
		users    int
		problems int
	}{
		"lines":           {doc("a") + "\n" + doc("b") + "\r\n\n" + doc("c"), 3, 0},
		"array":           {"\ufeff [" + doc("a") + ",\n" + doc("b") + "," + doc("c") + "]", 3, 0},
		"pretty":          {pretty, 2, 1},
		"empty":           {"", 0, 0},
		"bad line amid":   {doc("a") + "\n{\"_id\":\"x\",\n" + doc("c") + "\n", 2, 1},
		"not extjson":     {`{"_id":{"$oid":"nothex"},"email":"a@example.com"}`, 0, 1},
		"wrong type date": {`{"_id":"a","email":"a@example.com","team_id":"t","created_at":true}`, 0, 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := legacy.NewLoader(legacy.Options{})
			_, err := l.ReadFile("cspm_platform", "users", strings.NewReader(c.in))
			require.NoError(t, err)
			ds := l.Dataset()
			assert.Len(t, ds.Users, c.users)
			assert.Len(t, ds.Problems, c.problems, "%+v", ds.Problems)
		})
	}
}

// TestReadFile_BrokenArrayKeepsWhatCameBefore: a --jsonArray file cannot be
// resynchronised after a syntax error: the documents before it are kept,
// the break is a Problem and the error says where.
func TestReadFile_BrokenArrayKeepsWhatCameBefore(t *testing.T) {
	l := legacy.NewLoader(legacy.Options{})
	n, err := l.ReadFile("cspm_platform", "users", strings.NewReader(`[{"_id":"a","email":"a@example.com","team_id":"t"},{"_id":"b",`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cspm_platform.users: document 1")
	assert.Equal(t, 1, n)
	ds := l.Dataset()
	assert.Len(t, ds.Users, 1)
	require.Len(t, ds.Problems, 1)
	assert.Contains(t, ds.Problems[0].Reason, "the array breaks here")
}

func TestUnknownCollectionIsAProblem(t *testing.T) {
	l := legacy.NewLoader(legacy.Options{})
	_, err := l.ReadFile("cspm_platform", "sessions", strings.NewReader(`{"_id":"a"}`))
	require.NoError(t, err)
	ds := l.Dataset()
	require.Len(t, ds.Problems, 1)
	assert.Equal(t, `collection "sessions" is not imported`, ds.Problems[0].Reason)
	assert.False(t, legacy.Known("sessions"))
	assert.True(t, legacy.Known("enhanced_cloud_accounts"))
}
