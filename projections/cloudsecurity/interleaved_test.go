package cloudsecurity_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

// Interleaved scans of one scope (A started, B started, B's results, A's
// results, completions in either order) give the findings that the scans
// imported one after the other give, whatever the order: the fold places
// a scan whose results arrive before its completion among the scans that
// have results in the scope, and a completion fixes exactly the findings
// its scan did not report failing (decisions 32, 33).
func TestImportedFindings_InterleavedScansOfOneScope(t *testing.T) {
	t.Parallel()
	a, b, c := projectionstest.InterleavedScans()
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
		got[fold.Str(d, "resource_id")] = kinds
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
