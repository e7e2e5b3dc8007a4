package queries_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkImportedPosture: the dashboard and account queries over the
// import worlds of BenchmarkImportedQueries (CSPM_BENCH_QUERY_FINDINGS;
// goal: p99 ≤ 5 ms, flat from 10,000 to 1,000,000 findings):
//   - dashboard: GET /api/v1/dashboard/summary (one document per team,
//     its posture section included);
//   - accounts/first_page: GET /api/v1/accounts (50, by name);
//   - accounts/get: GET /api/v1/accounts/{id}, accounts visited in turn.
//
// Before measuring, the answers are checked against the world's shape:
// 9,500 open findings per account, each account's second scan the last
// one (500 fixed, 1,000 new).
func BenchmarkImportedPosture(b *testing.B) {
	ctx := context.Background()
	for _, size := range importedSizes() {
		b.Run(fmt.Sprintf("findings=%d", size), func(b *testing.B) {
			e := importedWorld(b, size)
			ids := postureChecked(b, e)
			b.Run("dashboard", func(b *testing.B) {
				measure(b, func(int) error {
					_, err := e.dashboard.DashboardSummary(ctx, benchTeam)
					return err
				})
			})
			b.Run("accounts/first_page", func(b *testing.B) {
				measure(b, func(int) error {
					l, err := e.findings.ListAccounts(ctx, benchTeam, csquery.AccountFilter{}, queries.Page{})
					if err == nil && len(l.Items) != min(queries.DefaultLimit, e.world.Accounts) {
						err = fmt.Errorf("%d accounts", len(l.Items))
					}
					return err
				})
			})
			b.Run("accounts/get", func(b *testing.B) {
				measure(b, func(i int) error {
					_, err := e.findings.GetAccount(ctx, benchTeam, ids[i%len(ids)])
					return err
				})
			})
		})
	}
}

// postureChecked checks the dashboard and the accounts against the world
// and returns the team's account ids.
func postureChecked(b *testing.B, e *importedEnv) []string {
	b.Helper()
	ctx := context.Background()
	perAccount := int64(e.world.FindingsPerAccount()) * 95 / 100 // 9,500 of 10,000 open
	d, err := e.dashboard.DashboardSummary(ctx, benchTeam)
	require.NoError(b, err)
	require.Equal(b, perAccount*int64(e.world.Accounts), d.Posture.OpenFindings.Total)
	require.Len(b, d.Posture.ByAccount, e.world.Accounts)
	require.NotNil(b, d.Posture.LastScan)
	require.Equal(b, int64(500), d.Posture.LastScan.Fixed, "the last scan: one account's second scan")
	require.Equal(b, int64(1000), d.Posture.LastScan.New)
	require.Len(b, d.Posture.TopFailingChecks, 10)
	// Compliance per framework: every account's second scan is current
	// (CIS-5.0, one requirement per check).
	require.NotNil(b, d.Posture.Compliance)
	require.Len(b, d.Posture.Compliance.Frameworks, 1)
	require.Equal(b, int64(e.world.Accounts), d.Posture.Compliance.Frameworks[0].Accounts)
	var ids []string
	p := queries.Page{Limit: queries.MaxLimit}
	for {
		l, err := e.findings.ListAccounts(ctx, benchTeam, csquery.AccountFilter{}, p)
		require.NoError(b, err)
		for _, a := range l.Items {
			require.Equal(b, perAccount, a.OpenFindings.Total, a.ID)
			require.Len(b, a.Trend, 2, a.ID)
			ids = append(ids, a.ID)
		}
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	require.Len(b, ids, e.world.Accounts)
	return ids
}

var _ = qt.ImportWorld{}
