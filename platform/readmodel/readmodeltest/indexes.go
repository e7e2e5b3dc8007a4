package readmodeltest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

var (
	assetIndex = readmodel.Index{Name: "by_asset", Fields: []readmodel.IndexField{{Path: "asset_id"}}, Unique: true}
	imageIndex = readmodel.Index{Name: "by_image", Unique: true, Fields: []readmodel.IndexField{
		{Path: "account_id"}, {Path: "repository_name"}, {Path: "image_digest"}}}
	teamIndex = readmodel.Index{Name: "by_team_time", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "at", Desc: true}}}
	ttlIndex  = readmodel.Index{Name: "expiry", Fields: []readmodel.IndexField{{Path: "scanned_at"}}, TTL: 180 * 24 * time.Hour}
)

func (e *env) listIndexes(coll string) []readmodel.Index {
	e.t.Helper()
	in, ok := e.s.(readmodel.Inspector)
	if !ok {
		return nil
	}
	ixs, err := in.ListIndexes(e.ctx, coll)
	require.NoError(e.t, err)
	return ixs
}

func testEnsureCollection(t *testing.T, e *env) {
	spec := readmodel.CollectionSpec{Name: "assets", Indexes: []readmodel.Index{assetIndex, teamIndex, ttlIndex}}
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec))
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec), "idempotent")
	e.put("assets", doc("a1", "asset_id", "x"))
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec), "idempotent with data")
	require.Equal(t, doc("a1", "asset_id", "x"), e.get("assets", "a1"), "ensure keeps the data")

	if _, ok := e.s.(readmodel.Inspector); ok {
		require.Equal(t, []readmodel.Index{assetIndex, teamIndex, ttlIndex}, e.listIndexes("assets"))
		cols, err := e.s.(readmodel.Inspector).ListCollections(e.ctx)
		require.NoError(t, err)
		require.Contains(t, cols, "assets")

		// A changed declaration replaces the index; undeclared ones stay.
		changed := teamIndex
		changed.Fields = []readmodel.IndexField{{Path: "team_id"}}
		require.NoError(t, e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "assets", Indexes: []readmodel.Index{changed}}))
		require.Equal(t, []readmodel.Index{assetIndex, changed, ttlIndex}, e.listIndexes("assets"))
	}

	// A unique index over existing duplicates fails with ErrDuplicate.
	e.put("dups", doc("d1", "k", "same"), doc("d2", "k", "same"))
	err := e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "dups", Indexes: []readmodel.Index{
		{Name: "by_k", Fields: []readmodel.IndexField{{Path: "k"}}, Unique: true}}})
	require.ErrorIs(t, err, readmodel.ErrDuplicate)
}

func testUnique(t *testing.T, e *env) {
	e.ensure("assets", assetIndex)
	e.put("assets", doc("a1", "asset_id", "x", "v", 1), doc("a2", "asset_id", "y"), doc("m1"), doc("m2"))
	cp := e.checkpoint(proj)

	// Updating a document keeps its own unique value.
	e.put("assets", doc("a1", "asset_id", "x", "v", 2))
	cp = e.checkpoint(proj)

	// Violation against a stored document.
	err := e.commit(map[string][]readmodel.Doc{"assets": {doc("a3", "asset_id", "z"), doc("a4", "asset_id", "x")}},
		map[string][]string{"assets": {"a2"}})
	requireDuplicate(t, err, "assets", "by_asset")
	require.Equal(t, cp, e.checkpoint(proj), "a failed batch leaves the checkpoint")
	if e.info.Transactions {
		require.Equal(t, []string{"a1", "a2", "m1", "m2"}, e.find("assets", readmodel.Filter{}), "the whole batch rolled back")
	}

	// Violation inside one batch.
	err = e.commit(map[string][]readmodel.Doc{"assets": {doc("b1", "asset_id", "q"), doc("b2", "asset_id", "q")}}, nil)
	requireDuplicate(t, err, "assets", "by_asset")
	require.Equal(t, cp, e.checkpoint(proj))
	if e.info.Transactions {
		_, err = e.s.Get(e.ctx, "assets", "b1")
		require.ErrorIs(t, err, readmodel.ErrNotFound)
	}

	// Moving a unique value from one document to another in one batch, and
	// from a deleted document to a new one (deletes apply first).
	e.put("assets", doc("a2", "asset_id", "moved"), doc("a5", "asset_id", "y"))
	require.Equal(t, []string{"a5"}, e.find("assets", readmodel.Eq("asset_id", "y")))
	require.NoError(t, e.commit(map[string][]readmodel.Doc{"assets": {doc("a6", "asset_id", "y")}}, map[string][]string{"assets": {"a5"}}))
	require.Equal(t, []string{"a6"}, e.find("assets", readmodel.Eq("asset_id", "y")))
}

func testCompoundUnique(t *testing.T, e *env) {
	e.ensure("registry_images", imageIndex)
	img := func(id, acct, repo, digest string) readmodel.Doc {
		return doc(id, "account_id", acct, "repository_name", repo, "image_digest", digest)
	}
	e.put("registry_images", img("i1", "acc", "repo", "sha:1"), img("i2", "acc", "repo", "sha:2"), img("i3", "acc2", "repo", "sha:1"))
	cp := e.checkpoint(proj)
	err := e.commit(map[string][]readmodel.Doc{"registry_images": {img("i4", "acc", "other", "sha:1"), img("i5", "acc", "repo", "sha:2")}}, nil)
	requireDuplicate(t, err, "registry_images", "by_image")
	require.Equal(t, cp, e.checkpoint(proj))
	if e.info.Transactions {
		require.Equal(t, int64(3), e.count("registry_images", readmodel.Filter{}))
	}
	// Documents lacking a field of the index do not collide.
	e.put("registry_images", doc("p1", "account_id", "acc", "repository_name", "repo"), doc("p2", "account_id", "acc", "repository_name", "repo"))
}

func requireDuplicate(t *testing.T, err error, coll, index string) {
	t.Helper()
	require.ErrorIs(t, err, readmodel.ErrDuplicate)
	var dup *readmodel.DuplicateError
	require.True(t, errors.As(err, &dup), "a *readmodel.DuplicateError: %v", err)
	require.Equal(t, index, dup.Index)
	require.Equal(t, coll, dup.Collection)
}

func testTTL(t *testing.T, e *env) {
	short := readmodel.Index{Name: "expiry", Fields: []readmodel.IndexField{{Path: "scanned_at"}}, TTL: time.Hour}
	e.ensure("scans", short)
	e.put("scans",
		doc("old", "scanned_at", t0.Add(-2*time.Hour)),
		doc("edge", "scanned_at", t0.Add(-time.Hour)),
		doc("new", "scanned_at", t0),
		doc("str", "scanned_at", "2000-01-01T00:00:00.000Z"), // not a time: never expires
		doc("none"),
	)
	n, err := e.s.SweepExpired(e.ctx, t0)
	require.NoError(t, err)
	if e.info.ServerTTL {
		require.Zero(t, n, "the server expires documents; SweepExpired is a no-op")
		require.Contains(t, e.listIndexes("scans"), short, "the TTL index is declared on the server")
		return
	}
	require.Equal(t, int64(1), n)
	require.Equal(t, []string{"edge", "new", "none", "str"}, e.find("scans", readmodel.Filter{}))
	n, err = e.s.SweepExpired(e.ctx, t0.Add(time.Hour+time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Equal(t, []string{"none", "str"}, e.find("scans", readmodel.Filter{}))
}
