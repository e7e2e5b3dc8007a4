package assessments_test

import (
	"fmt"
	"testing"
	"time"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	pa "github.com/cspm-es/cspm-es/projections/assessments"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// BenchmarkEvidence_ImportOfAScopedAccount: the cost of one import's
// completion for an assessment of the real CSF subset (27 requirements,
// their ~150 checks) scoping `accounts` accounts, each with an earlier
// import of every check: the import's evaluations are kept and the
// assessment's evidence rebuilt. The baseline is the same import with no
// assessment scoping the account (the evaluations kept, nothing rebuilt).
func BenchmarkEvidence_ImportOfAScopedAccount(b *testing.B) {
	cat := csfLoaded(b)
	t := &testing.T{} // pt.Apply's helper type; the world is built once, before the timer
	var checks []string
	seen := map[string]bool{}
	for _, r := range cat.Requirements {
		for _, c := range r.Checks {
			if !seen[c] {
				seen[c], checks = true, append(checks, c)
			}
		}
	}
	importOf := func(name, account string, hour int) []pt.EventData {
		var rs []csdomain.CheckResult
		for i, c := range checks {
			r := pt.Result(c, "eu-west-1", fmt.Sprintf("arn:r/%d", i), csdomain.ResultFail, csdomain.SeverityHigh)
			r.Account = account
			rs = append(rs, r)
		}
		return pt.ImportEvents(name, hour, 500, rs...)
	}
	for _, accounts := range []int{1, 10} {
		for _, scoped := range []bool{false, true} {
			b.Run(fmt.Sprintf("accounts=%d/scoped=%v", accounts, scoped), func(b *testing.B) {
				var world []projections.Event
				pos := int64(1)
				add := func(team string, data ...pt.EventData) []projections.Event {
					ps := make([]int64, len(data))
					for i := range ps {
						ps[i], pos = pos, pos+1
					}
					return pt.Only(pa.NewEvidence(), pt.Stream(team, ps, data...))
				}
				world = append(world, add(team, cat)...)
				var ids []string
				for i := range accounts {
					ids = append(ids, fmt.Sprintf("acct-%03d", i))
					world = append(world, add(team, importOf(fmt.Sprintf("base-%d", i), ids[i], 1)...)...)
				}
				if scoped {
					c := created("as-1", csfRef, pt.At(100*time.Hour), cat.Requirements)
					c.Scope = as.Scope{Accounts: ids}
					world = append(world, add(team, c)...)
				}
				tx := pt.Apply(t, pa.NewEvidence(), world...)
				next := add(team, importOf("next", ids[0], 2)...)
				b.ResetTimer()
				for b.Loop() {
					for _, ev := range next {
						if err := pa.NewEvidence().Apply(b.Context(), tx, ev); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/import")
			})
		}
	}
}
