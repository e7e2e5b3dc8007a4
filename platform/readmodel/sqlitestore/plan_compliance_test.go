package sqlitestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
)

// TestQueryPlans_Compliance: each compliance query (queries/cloudsecurity/
// compliance.go) walks one of the indexes the compliance projection
// declares, without a temporary sort (docs/compliance.md, decision 44).
func TestQueryPlans_Compliance(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	for _, spec := range cloudsecurityproj.NewCompliance().Collections() {
		require.NoError(t, s.EnsureCollection(ctx, spec))
	}
	const coll = cloudsecurityproj.ComplianceScoresCollection
	var docs []readmodel.Doc
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for a := range 40 {
		for scan := range 3 {
			at := t0.Add(time.Duration(scan*24+a) * time.Hour)
			for _, fw := range []string{"CIS-5.0", "NIST-CSF-2.0"} {
				docs = append(docs, readmodel.Doc{"_id": fmt.Sprintf("cmp-%d-%d-%s", a, scan, fw), "team_id": fmt.Sprintf("t%d", a%2),
					"account_id": fmt.Sprint(a), "framework": fw, "scan_id": fmt.Sprintf("s-%d-%d", a, scan), "at": at,
					"seq": at.Format(readmodel.TimeLayout) + "|imp", "current": scan == 2})
			}
		}
	}
	require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "p", Checkpoint: 1, Puts: map[string][]readmodel.Doc{coll: docs}}))

	for _, tc := range []struct {
		name, index string
		opts        readmodel.FindOptions
	}{
		{"overview accounts", "by_current_framework", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("current", true)),
			Sort:   []readmodel.SortField{readmodel.Asc("framework"), readmodel.Asc("account_id")}, Limit: 20}},
		{"overview accounts of a framework", "by_current_framework", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("current", true), readmodel.Eq("framework", "CIS-5.0")),
			Sort:   []readmodel.SortField{readmodel.Asc("account_id")}, Limit: 20}},
		{"as of", "by_account_framework_at", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("account_id", "3"), readmodel.Eq("framework", "CIS-5.0"),
				readmodel.Lte("at", t0.Add(30*time.Hour))),
			Sort: []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 1}},
		{"current", "by_account_framework_at", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("account_id", "3"), readmodel.Eq("framework", "CIS-5.0")),
			Sort:   []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 1}},
		{"the other report of a scan (window)", "by_account_framework_at", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("account_id", "3"), readmodel.Eq("framework", "CIS-5.0"),
				readmodel.Gte("at", t0), readmodel.Lte("at", t0.Add(28*time.Hour))),
			Sort: []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 8}},
		{"the evaluation before", "by_account_framework_at", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("account_id", "3"), readmodel.Eq("framework", "CIS-5.0"),
				readmodel.Lte("at", t0.Add(50*time.Hour)), readmodel.Lt("seq", t0.Add(50*time.Hour).Format(readmodel.TimeLayout))),
			Sort: []readmodel.SortField{readmodel.Desc("at"), readmodel.Desc("seq")}, Limit: 1}},
		{"of a scan", "by_scan_framework", readmodel.FindOptions{
			Filter: readmodel.And(readmodel.Eq("team_id", "t1"), readmodel.Eq("scan_id", "s-3-1"), readmodel.Eq("framework", "CIS-5.0")),
			Sort:   []readmodel.SortField{readmodel.Asc("account_id")}, Limit: 2}},
	} {
		check := func(opts readmodel.FindOptions) {
			for _, q := range findSQL(t, coll, opts) {
				plan := explain(t, s, q)
				require.Contains(t, plan, "USING INDEX ix_"+tc.index+"_", "%s: %s", tc.name, plan)
				require.NotContains(t, plan, "TEMP B-TREE", "%s: %s", tc.name, plan)
			}
		}
		check(tc.opts)
		if tc.opts.Limit > 1 { // and the next page
			opts := tc.opts
			opts.Limit = 1
			p, err := s.Find(ctx, coll, opts)
			require.NoError(t, err)
			if p.NextCursor != "" {
				opts.Cursor = p.NextCursor
				check(opts)
			}
		}
	}
}
