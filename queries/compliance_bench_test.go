package queries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkImportedCompliance: the compliance queries over the import
// worlds of BenchmarkImportedQueries (goal: p99 ≤ 5 ms, flat from 10,000
// to 1,000,000 findings; docs/compliance.md, "Performance"):
//
//	go test -run '^$' -bench 'ImportedCompliance' ./queries/
//
// Each account maps its 50 checks to 50 requirements of CIS-5.0 and is
// scanned twice; accounts are visited in turn.
//   - overview: GET /api/v1/compliance (the team's frameworks and the
//     first page of its accounts);
//   - framework/*: GET /api/v1/compliance/CIS-5.0 of an account now, as of
//     a time between its scans, of its first scan, and of the team;
//   - changes/requirements: GET .../changes from its first scan to its
//     second (every requirement compared: none changed status);
//   - changes/findings: the findings that moved one requirement (30:
//     10 fixed, 20 new), the first page (20).
func BenchmarkImportedCompliance(b *testing.B) {
	ctx := context.Background()
	const fw = "CIS-5.0"
	for _, size := range importedSizes() {
		b.Run(fmt.Sprintf("findings=%d", size), func(b *testing.B) {
			e := importedWorld(b, size)
			w := e.world
			acct := func(i int) string { return qt.ImportAccount(i % w.Accounts) }
			// warm runs op once per account before the timing: the
			// database was just opened (settled), and a first read of each
			// account's pages from disk would otherwise be 1 in 30 of the
			// timed calls at 100 accounts (the p99), against 1 in 3,000 at
			// one account. The timed calls then measure a warm server.
			warm := func(b *testing.B, op func(i int) error) func(i int) error {
				for i := range w.Accounts {
					if err := op(i); err != nil {
						b.Fatal(err)
					}
				}
				return op
			}
			full := func(n, want int, what string) error {
				if n != want {
					return fmt.Errorf("%d %s, want %d", n, what, want)
				}
				return nil
			}
			// The floor of this machine in this run: one document read by
			// id (what every answer costs at least), to read the p99s
			// against on a shared machine.
			b.Run("baseline/get_one_document", func(b *testing.B) {
				store := e.Stores[dbregistry.CLOUD_SECURITY]
				id := csdomain.ComplianceOverviewID(benchTeam)
				measure(b, func(int) error {
					_, err := store.Get(ctx, "compliance_overviews", id)
					return err
				})
			})
			b.Run("overview", func(b *testing.B) {
				measure(b, warm(b, func(int) error {
					ov, err := e.findings.GetComplianceOverview(ctx, benchTeam, "", queries.Page{})
					if err != nil {
						return err
					}
					if err := full(len(ov.Frameworks), 1, "frameworks"); err != nil {
						return err
					}
					return full(len(ov.Accounts), min(w.Accounts, csquery.DefaultCompliancePage), "accounts")
				}))
			})
			for _, tc := range []struct {
				name string
				q    func(i int) csquery.FrameworkQuery
			}{
				{"framework/account_now", func(i int) csquery.FrameworkQuery {
					return csquery.FrameworkQuery{Framework: fw, Account: acct(i)}
				}},
				{"framework/account_as_of", func(i int) csquery.FrameworkQuery {
					return csquery.FrameworkQuery{Framework: fw, Account: acct(i), AsOf: qt.ImportScanAt(i%w.Accounts, 1).Add(time.Hour)}
				}},
				{"framework/scan_id", func(i int) csquery.FrameworkQuery {
					return csquery.FrameworkQuery{Framework: fw, ScanID: w.ImportScanID(i%w.Accounts, 1)}
				}},
				{"framework/team", func(int) csquery.FrameworkQuery { return csquery.FrameworkQuery{Framework: fw} }},
			} {
				b.Run(tc.name, func(b *testing.B) {
					measure(b, warm(b, func(i int) error {
						f, err := e.findings.GetFrameworkCompliance(ctx, benchTeam, tc.q(i))
						if err != nil {
							return err
						}
						return full(len(f.Requirements), csquery.DefaultRequirementsPage, "requirements")
					}))
				})
			}
			b.Run("changes/requirements", func(b *testing.B) {
				measure(b, warm(b, func(i int) error {
					a := i % w.Accounts
					_, err := e.findings.GetComplianceChanges(ctx, benchTeam, csquery.ChangesQuery{Framework: fw,
						From: w.ImportScanID(a, 1), To: w.ImportScanID(a, 2)})
					return err
				}))
			})
			b.Run("changes/findings", func(b *testing.B) {
				measure(b, warm(b, func(i int) error {
					a := i % w.Accounts
					ch, err := e.findings.GetComplianceChanges(ctx, benchTeam, csquery.ChangesQuery{Framework: fw,
						From: w.ImportScanID(a, 1), To: w.ImportScanID(a, 2), Requirement: fmt.Sprintf("%d.%d", (i%50)/10+1, i%10)})
					if err != nil {
						return err
					}
					return full(len(ch.Findings), csquery.DefaultCompliancePage, "moved findings")
				}))
			})
		})
	}
}
