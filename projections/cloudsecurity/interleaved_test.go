package cloudsecurity_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// interleavedScans are three scans of one scope (a check in a region of an
// account), an hour apart, each result in a chunk of its own so that their
// imports can interleave at every result:
//
//   - bucket-1 fails in A and B: one run, raised by A, open;
//   - bucket-2 fails in A only (B reports it passing): fixed by B;
//   - bucket-3 fails in B only: raised by B, open;
//   - bucket-4 fails in A and C, not in B (B does not report it): raised
//     by A, fixed by B, reopened by C;
//   - bucket-5 fails in C only, whose other results are elsewhere.
func interleavedScans() (a, b, c []eventData) {
	const check, region = "s3_bucket_public_access", "eu-west-1"
	bucket := func(n string) string { return "arn:aws:s3:::bucket-" + n }
	r := func(n string, result csdomain.Result) csdomain.CheckResult {
		return res(check, region, bucket(n), result, csdomain.SeverityHigh)
	}
	fail, pass := csdomain.ResultFail, csdomain.ResultPass
	a = importEvents("scan-a", 1, 1, r("1", fail), r("2", fail), r("4", fail))
	b = importEvents("scan-b", 2, 1, r("1", fail), r("2", pass), r("3", fail))
	c = importEvents("scan-c", 3, 1, r("1", fail), r("3", fail), r("4", fail), r("5", fail))
	return a, b, c
}

// Interleaved scans of one scope (A started, B started, B's results, A's
// results, completions in either order) give the findings that the scans
// imported one after the other give, whatever the order: the fold places
// a scan whose results arrive before its completion among the scans that
// have results in the scope, and a completion fixes exactly the findings
// its scan did not report failing (decisions 32, 33).
func TestImportedFindings_InterleavedScansOfOneScope(t *testing.T) {
	t.Parallel()
	a, b, c := interleavedScans()
	streams, _ := imports("team-a", 1, a, b, c)
	p := cloudsecurity.NewFindings()

	// The sequential outcome, stated.
	tx := apply(t, p, slices.Concat(streams...)...)
	got := map[string][]string{}
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		h := fold.HistoryFrom(fold.Obj(d, "history"))
		var kinds []string
		for _, tr := range h.Transitions() {
			kinds = append(kinds, tr.Kind+"@"+tr.Scan)
		}
		got[fold.Str(d, "resource_uid")] = kinds
	}
	assert.Equal(t, map[string][]string{
		"arn:aws:s3:::bucket-1": {"raised@scan-a"},
		"arn:aws:s3:::bucket-2": {"raised@scan-a", "fixed@scan-b"},
		"arn:aws:s3:::bucket-3": {"raised@scan-b"},
		"arn:aws:s3:::bucket-4": {"raised@scan-a", "fixed@scan-b", "reopened@scan-c"},
		"arn:aws:s3:::bucket-5": {"raised@scan-c"},
	}, got)

	// A started, B started, B's results, A's results, B completed, then A.
	at, bt := streams[0], streams[1]
	last := func(s []eventData) int { return len(s) - 1 }
	order := slices.Concat(at[:1], bt[:1], bt[1:last(b)], at[1:last(a)], bt[last(b):], at[last(a):], streams[2])
	assert.Equal(t, tx.Colls, apply(t, p, order...).Colls, "B's results and completion before A's")

	// And every interleaving of the three imports.
	assertOrderIndependent(t, p, streams)
}
