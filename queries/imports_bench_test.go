package queries_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// The imported-findings benchmarks (docs/imports.md, "Benchmarks"):
//
//	go test -run '^$' -bench 'Imported' ./queries/
//
// CSPM_BENCH_QUERY_FINDINGS lists the world sizes (default
// "10000,1000000"): the team's imported findings, 10,000 per account
// (qt.ImportWorld: every account scanned twice, a day apart), beside
// another team's account of 10,000. Each world is seeded once per process
// through the real projections (SeedChunks, an account at a time) into
// SQLite read models in a temporary directory, and shared by the
// benchmarks. With CSPM_BENCH_QUERY_DIR set, the worlds are kept there and
// reused by later runs (remove it when the projections change).

func importedSizes() []int {
	v := os.Getenv("CSPM_BENCH_QUERY_FINDINGS")
	if v == "" {
		return []int{10_000, 1_000_000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// importedEnv is a seeded import world and what its benchmarks ask for.
type importedEnv struct {
	*env
	world   qt.ImportWorld
	count   int // the team's imported findings
	seeding time.Duration
	deep    string // a cursor 90% deep into the team's finding list
}

var imported struct {
	mu   sync.Mutex
	envs map[int]*importedEnv
	dirs []string
}

func closeImported() {
	for _, e := range imported.envs {
		for _, s := range e.Stores {
			_ = s.Close()
		}
	}
	for _, d := range imported.dirs {
		_ = os.RemoveAll(d)
	}
}

// importedWorld returns the world of about findings imported findings,
// seeded once per process.
func importedWorld(b *testing.B, findings int) *importedEnv {
	b.Helper()
	imported.mu.Lock()
	defer imported.mu.Unlock()
	if e, ok := imported.envs[findings]; ok {
		return e
	}
	world := qt.ImportWorld{Team: benchTeam, Accounts: max(1, findings/qt.ImportWorld{}.FindingsPerAccount())}
	other := qt.ImportWorld{Team: "team-other", Accounts: 1}
	var dir, seeded string
	if keep := os.Getenv("CSPM_BENCH_QUERY_DIR"); keep != "" {
		// Kept across runs (to profile the queries without seeding
		// again); remove it when the projections change.
		dir = filepath.Join(keep, fmt.Sprintf("findings-%d", findings))
		require.NoError(b, os.MkdirAll(dir, 0o700))
		seeded = filepath.Join(dir, "seeded")
	} else {
		var err error
		dir, err = os.MkdirTemp("", "cspm-imported-bench-")
		require.NoError(b, err)
		imported.dirs = append(imported.dirs, dir)
	}
	e := &importedEnv{env: envOver(qt.OpenEnv(b, dir)), world: world, count: world.Accounts * world.FindingsPerAccount()}
	if imported.envs == nil {
		imported.envs = map[int]*importedEnv{}
	}
	if seeded != "" {
		if _, err := os.Stat(seeded); err == nil {
			b.Logf("reusing the world seeded in %s", dir)
			e.deep = deepCursor(b, e)
			imported.envs[findings] = e
			return e
		}
	}

	began := time.Now()
	var last int64
	e.SeedChunks(b, func(yield func([]projections.Event) bool) {
		for _, w := range []qt.ImportWorld{world, other} {
			for chunk := range w.Chunks(last + 1) {
				last = chunk[len(chunk)-1].Position
				if !yield(chunk) {
					return
				}
			}
		}
	})
	e.seeding = time.Since(began)
	b.Logf("seeded %d imported findings (%d accounts, +%d of another team; %d events) through the projections in %v: %.0f findings/s",
		e.count, world.Accounts, other.FindingsPerAccount(), last, e.seeding.Round(time.Millisecond),
		float64(e.count+other.FindingsPerAccount())/e.seeding.Seconds())

	if seeded != "" {
		require.NoError(b, os.WriteFile(seeded, nil, 0o600))
	}
	// The queries run on a settled database, as after a restart: closed
	// (SQLite checkpoints and removes the WAL), the written pages flushed
	// (not competing with the queries), opened again.
	e.Close(b)
	syncFiles(b, dir)
	e.env = envOver(qt.OpenEnv(b, dir))
	e.deep = deepCursor(b, e)
	imported.envs[findings] = e
	return e
}

// BenchmarkImportedSeeding seeds each world (once per process: the
// queries' benchmarks below reuse it) and reports how fast the projections
// took the imports in: findings/s over the team's and the other team's
// findings, and the seconds it took.
func BenchmarkImportedSeeding(b *testing.B) {
	for _, size := range importedSizes() {
		b.Run(fmt.Sprintf("findings=%d", size), func(b *testing.B) {
			var e *importedEnv
			for i := 0; i < b.N; i++ {
				e = importedWorld(b, size) // the first call seeds; b.N is 1
			}
			if e.seeding > 0 { // not when a kept world was reused
				all := e.count + qt.ImportWorld{}.FindingsPerAccount()
				b.ReportMetric(float64(all)/e.seeding.Seconds(), "findings/s")
				b.ReportMetric(e.seeding.Seconds(), "seed_s")
			}
		})
	}
}

// BenchmarkImportedQueries: the queries of imported findings at each world
// size (goal: p99 ≤ 5 ms, flat from 10,000 to 1,000,000 findings):
//   - findings: GET /api/v1/findings, the first page (50) unfiltered, by
//     severity, by status (fixed: 5% of the findings), and the page after a
//     cursor at least 90% deep into the list;
//   - delta: GET /api/v1/scans/{id}/delta of an account's second scan (all
//     changes, and only the fixed), accounts visited in turn;
//   - history: GET /api/v1/findings/{id}/history of findings visited in
//     turn (fixed ones: raised then fixed; open ones: raised).
func BenchmarkImportedQueries(b *testing.B) {
	ctx := context.Background()
	for _, size := range importedSizes() {
		b.Run(fmt.Sprintf("findings=%d", size), func(b *testing.B) {
			e := importedWorld(b, size)
			for _, tc := range []struct {
				name string
				f    csquery.FindingFilter
				page queries.Page
			}{
				{"findings/first_page", csquery.FindingFilter{}, queries.Page{}},
				{"findings/first_page_severity=high", csquery.FindingFilter{Severity: []string{"high"}}, queries.Page{}},
				{"findings/first_page_status=fixed", csquery.FindingFilter{Status: "fixed"}, queries.Page{}},
				{"findings/deep_page", csquery.FindingFilter{}, queries.Page{Cursor: e.deep}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					measure(b, func(int) error {
						l, err := e.findings.ListFindings(ctx, benchTeam, tc.f, tc.page)
						if err == nil && len(l.Items) != queries.DefaultLimit {
							err = fmt.Errorf("%d findings, want a full page", len(l.Items))
						}
						return err
					})
				})
			}
			for _, change := range []string{"", "fixed"} {
				b.Run("delta/change="+change, func(b *testing.B) {
					measure(b, func(i int) error {
						d, err := e.scans.ScanDelta(ctx, benchTeam, e.world.ImportScanID(i%e.world.Accounts, 2), change, queries.Page{})
						if err == nil && len(d.Items) != queries.DefaultLimit {
							err = fmt.Errorf("%d changes, want a full page", len(d.Items))
						}
						return err
					})
				})
			}
			b.Run("history", func(b *testing.B) {
				ids := historyIDs(e.world)
				measure(b, func(i int) error {
					h, err := e.findings.FindingHistory(ctx, benchTeam, ids(i))
					if err == nil && len(h.Transitions) == 0 {
						err = fmt.Errorf("finding %s has no history", h.FindingID)
					}
					return err
				})
			})
		})
	}
}

// historyIDs cycles through findings of every account, region and check:
// one in four fixed (resource 0), the others open.
func historyIDs(w qt.ImportWorld) func(i int) string {
	return func(i int) string {
		a, g, c := i%w.Accounts, (i/7)%10, (i/3)%50
		r := []int{0, 5, 12, 19}[i%4]
		return w.ImportFindingID(a, g, c, r)
	}
}

// deepCursor is the cursor GET /api/v1/findings issues for the page after
// a finding at least 90% deep into the team's list (newest first): 90%
// into the oldest group, the findings account 0's first scan raised (all
// raised at its time: the list orders them by id). The page it opens is
// checked: full, and of that group.
func deepCursor(b *testing.B, e *importedEnv) string {
	b.Helper()
	ctx := context.Background()
	var ids []string
	for g := range 10 {
		for c := range 50 {
			for r := range 18 { // resources 0..17 fail in scan 1
				ids = append(ids, e.world.ImportFindingID(0, g, c, r))
			}
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids) // the list's order among equal raised_at
	doc, err := e.Stores[dbregistry.CLOUD_SECURITY].Get(ctx, "findings", ids[len(ids)*9/10])
	require.NoError(b, err)
	plan, err := readmodel.FindOptions{Sort: []readmodel.SortField{readmodel.Desc("raised_at")}}.Plan() // ListFindings' order
	require.NoError(b, err)
	cursor, err := plan.NextCursor(doc)
	require.NoError(b, err)
	page, err := e.findings.ListFindings(ctx, benchTeam, csquery.FindingFilter{}, queries.Page{Cursor: cursor})
	require.NoError(b, err)
	require.Len(b, page.Items, queries.DefaultLimit)
	for _, f := range page.Items {
		require.True(b, f.RaisedAt.Equal(qt.ImportScanAt(0, 1)), "%s raised %v", f.ID, f.RaisedAt)
	}
	return cursor
}

// syncFiles flushes the files of dir to disk.
func syncFiles(b *testing.B, dir string) {
	b.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(b, err)
	for _, de := range entries {
		if !de.Type().IsRegular() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, de.Name()), os.O_RDWR, 0)
		require.NoError(b, err)
		require.NoError(b, f.Sync())
		require.NoError(b, f.Close())
	}
}
