package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections/orchestration"
)

// Every TTL index a projection declares is in the table of
// retention_ttl.go, mapped to a module or given a reason why no policy
// governs it; every row names a declared index; the governed ones declare
// the default retention (180 days), so without a policy nothing changes.
func TestTTLIndexModules(t *testing.T) {
	type key struct {
		db          dbregistry.Constant
		coll, index string
	}
	declared := map[key]time.Duration{}
	for _, p := range moduleProjections() {
		for _, c := range p.Collections() {
			for _, ix := range c.Indexes {
				if ix.TTL > 0 {
					declared[key{p.Database(), c.Name, ix.Name}] = ix.TTL
				}
			}
		}
	}
	require.NotEmpty(t, declared)
	table := map[key]ttlIndex{}
	for _, row := range ttlIndexes {
		k := key{row.DB, row.Collection, row.Index}
		assert.NotContains(t, table, k, "%v listed twice", k)
		table[k] = row
		ttl, ok := declared[k]
		assert.True(t, ok, "the table names %s.%s of %s, which no projection declares as a TTL index", row.Collection, row.Index, row.DB)
		if row.Module == "" {
			assert.NotEmpty(t, row.Why, "%v: a TTL no policy governs says why", k)
			continue
		}
		_, known := retention.ModuleNamed(row.Module)
		assert.True(t, known, "%v: unknown module %q", k, row.Module)
		assert.Equal(t, time.Duration(retention.DefaultDays)*24*time.Hour, ttl, "%v: a governed TTL declares the default policy", k)
	}
	for k := range declared {
		assert.Contains(t, table, k, "TTL index %s.%s of %s has no retention module: add it to ttlIndexes (retention_ttl.go)", k.coll, k.index, k.db)
	}
}

// The scan-results policy governs the scan-result read models' expiry:
// 180 days by default, 30 after `retention set --days 30` (40 days past
// dropped, 20 kept), nothing with 0 days.
func TestRetention_PolicyGovernsReadModelTTL(t *testing.T) {
	t.Parallel()
	w := newRetentionWorld(t)
	ctx := context.Background()
	const day = 24 * time.Hour
	now := time.Now()
	var spec readmodel.CollectionSpec
	for _, c := range orchestration.NewScanRuns().Collections() {
		if c.Name == "scan_runs" {
			spec = c
		}
	}
	require.Equal(t, "scan_runs", spec.Name)
	orch := dbregistry.MustNew("").Name(dbregistry.ORCHESTRATION)
	withStore := func(f func(s *sqlitestore.Store)) {
		t.Helper()
		stores, err := sqlitestore.OpenModuleStores(ctx, w.dir, []string{orch}, sqlitestore.Options{})
		require.NoError(t, err)
		f(stores[orch])
		require.NoError(t, stores[orch].Close())
	}
	checkpoint := int64(0)
	put := func(ages ...int) {
		t.Helper()
		withStore(func(s *sqlitestore.Store) {
			require.NoError(t, s.EnsureCollection(ctx, spec))
			var docs []readmodel.Doc
			for _, a := range ages {
				docs = append(docs, readmodel.Doc{"_id": "d" + itoa(int64(a)), "finished_at": now.Add(-time.Duration(a) * day)})
			}
			checkpoint++
			require.NoError(t, s.Commit(ctx, readmodel.Batch{Projection: "retention.ttl", Checkpoint: checkpoint, Puts: map[string][]readmodel.Doc{"scan_runs": docs}}))
		})
	}
	left := func() []string {
		t.Helper()
		var ids []string
		withStore(func(s *sqlitestore.Store) {
			page, err := s.Find(ctx, "scan_runs", readmodel.FindOptions{Limit: 100})
			require.NoError(t, err)
			for _, d := range page.Docs {
				ids = append(ids, d.ID())
			}
		})
		return ids
	}
	governed := func(rep retentionReport, days int) {
		t.Helper()
		require.Len(t, rep.ReadModel.TTLIndexes, 9, "every governed TTL index is reported")
		for _, ix := range rep.ReadModel.TTLIndexes {
			assert.Equal(t, "scan-results", ix.Module)
			assert.Equal(t, days, ix.Days, "%s.%s", ix.Collection, ix.Index)
		}
	}

	put(20, 40, 170, 190)
	rep := retentionReportOf(t, w.cspm(t, "retention", "run", "--json"))
	governed(rep, 180)
	assert.Equal(t, int64(2), rep.ReadModel.DocumentsExpired, "default 180 days: the 190-day scan run and the world's probe document")
	assert.ElementsMatch(t, []string{"d20", "d40", "d170"}, left())

	r := w.cspm(t, "retention", "set", "--module", "scan-results", "--days", "30", "--reason", "short")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = w.cspm(t, "retention", "run")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "read-model documents expired: 2\n")
	assert.Contains(t, r.stdout, "read-model TTL indexes governed by the policies: 9 (scan-results: 30 days)")
	assert.Equal(t, []string{"d20"}, left(), "policy 30 days: 40 days past dropped, 20 kept")

	r = w.cspm(t, "retention", "set", "--module", "scan-results", "--days", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	put(400)
	rep = retentionReportOf(t, w.cspm(t, "retention", "run", "--json"))
	governed(rep, 0)
	assert.Zero(t, rep.ReadModel.DocumentsExpired, "a 0-day policy keeps the documents")
	assert.ElementsMatch(t, []string{"d20", "d400"}, left())
}

// `cspm serve` applies the policies in force when it opens the read
// models, before the cycle: with the cycle off, the periodic SQLite sweep
// at start already expires by a 30-day policy.
func TestServe_AppliesTTLPoliciesAtStart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RetentionInterval = 0
	cfg.LogFormat = config.LogJSON
	first := fxtest.New(t, serveOptions(cfg, io.Discard))
	first.RequireStart()
	first.RequireStop()
	a := &testApp{cfg: cfg}
	r := a.cli(t, nil, "retention", "set", "--module", "scan-results", "--days", "30")
	require.Equal(t, exitOK, r.code, r.stderr)

	ctx := context.Background()
	orch := dbregistry.MustNew("").Name(dbregistry.ORCHESTRATION)
	stores, err := sqlitestore.OpenModuleStores(ctx, cfg.DataDir, []string{orch}, sqlitestore.Options{})
	require.NoError(t, err)
	spec := orchestration.NewScanRuns().Collections()[0]
	require.Equal(t, "scan_runs", spec.Name)
	require.NoError(t, stores[orch].EnsureCollection(ctx, spec))
	now := time.Now()
	require.NoError(t, stores[orch].Commit(ctx, readmodel.Batch{Projection: "retention.ttl", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"scan_runs": {
		{"_id": "d40", "finished_at": now.Add(-40 * 24 * time.Hour)}, {"_id": "d20", "finished_at": now.Add(-20 * 24 * time.Hour)}}}}))
	require.NoError(t, stores[orch].Close())

	logs := &lockedBuffer{}
	app := fxtest.New(t, serveOptions(cfg, logs))
	app.RequireStart()
	eventually(t, 30*time.Second, "the sweep at start", func() bool {
		return strings.Contains(logs.String(), `"msg":"expired read-model documents swept","component":"readmodel","database":"ORCHESTRATION","documents":1`)
	})
	app.RequireStop()
	assert.NotContains(t, logs.String(), "retention cycle done", "the cycle is off: the start applied the policy")

	stores, err = sqlitestore.OpenModuleStores(ctx, cfg.DataDir, []string{orch}, sqlitestore.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, stores[orch].Close()) }()
	page, err := stores[orch].Find(ctx, "scan_runs", readmodel.FindOptions{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Docs, 1)
	assert.Equal(t, "d20", page.Docs[0].ID())
}

// A policy set through the API applies at once to the process's read
// models: the next sweep expires by it.
func TestServe_PolicySetThroughTheAPIAppliesAtOnce(t *testing.T) {
	t.Parallel()
	var rm ReadModels
	a := startAppWith(t, func(c *config.Config) { c.RetentionInterval = 0 }, fx.Populate(&rm))
	ctx := context.Background()
	orch := rm.Stores[dbregistry.ORCHESTRATION]
	require.NotNil(t, orch)
	require.NoError(t, orch.EnsureCollection(ctx, orchestration.NewScanRuns().Collections()[0]), "as the projector does (idempotent)")
	now := time.Now()
	require.NoError(t, orch.Commit(ctx, readmodel.Batch{Projection: "retention.ttl", Checkpoint: 1, Puts: map[string][]readmodel.Doc{"scan_runs": {
		{"_id": "d40", "finished_at": now.Add(-40 * 24 * time.Hour)}, {"_id": "d20", "finished_at": now.Add(-20 * 24 * time.Hour)}}}}))
	n, err := orch.SweepExpired(ctx, now)
	require.NoError(t, err)
	require.Zero(t, n, "180 days by default")

	ans := a.call(t, http.MethodPut, "/api/v1/retention-policies/scan-results", map[string]any{"days": 30, "reason": "a month"})
	require.Equal(t, http.StatusAccepted, ans.status, "%s", ans.raw)
	n, err = orch.SweepExpired(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "30 days: 40 days past is dropped")
	_, err = orch.Get(ctx, "scan_runs", "d20")
	require.NoError(t, err, "20 days past is kept")
	assert.Contains(t, a.logs.String(), `"msg":"retention policy applied to the read models' TTL indexes"`)
}
