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
	ixs := []readmodel.Index{assetIndex, teamIndex}
	if e.has(TTLIndexes, "a TTL index in a collection's declaration") {
		ixs = append(ixs, ttlIndex)
	}
	spec := readmodel.CollectionSpec{Name: "assets", Indexes: ixs}
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec))
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec), "idempotent")
	e.put("assets", doc("a1", "asset_id", "x"))
	require.NoError(t, e.s.EnsureCollection(e.ctx, spec), "idempotent with data")
	require.Equal(t, doc("a1", "asset_id", "x"), e.get("assets", "a1"), "ensure keeps the data")

	if _, ok := e.s.(readmodel.Inspector); ok {
		require.Equal(t, ixs, e.listIndexes("assets"))
		cols, err := e.s.(readmodel.Inspector).ListCollections(e.ctx)
		require.NoError(t, err)
		require.Contains(t, cols, "assets")

		// A changed declaration replaces the index; undeclared ones stay.
		changed := teamIndex
		changed.Fields = []readmodel.IndexField{{Path: "team_id"}}
		require.NoError(t, e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "assets", Indexes: []readmodel.Index{changed}}))
		want := []readmodel.Index{assetIndex, changed}
		want = append(want, ixs[2:]...)
		require.Equal(t, want, e.listIndexes("assets"))
	}

	// A unique index over existing duplicates fails with ErrDuplicate.
	e.put("dups", doc("d1", "k", "same"), doc("d2", "k", "same"))
	err := e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "dups", Indexes: []readmodel.Index{
		{Name: "by_k", Fields: []readmodel.IndexField{{Path: "k"}}, Unique: true}}})
	if e.has(DuplicateKeyDetails, "building a unique index over duplicates fails with ErrDuplicate") {
		require.ErrorIs(t, err, readmodel.ErrDuplicate)
	} else {
		require.Error(t, err)
	}
}

func testUnique(t *testing.T, e *env) {
	e.ensure("assets", assetIndex)
	first, stored := []readmodel.Doc{doc("a1", "asset_id", "x", "v", 1), doc("a2", "asset_id", "y")}, []string{"a1", "a2"}
	if e.has(PartialIndexes, "documents that lack the field of a unique index do not collide") {
		first, stored = append(first, doc("m1"), doc("m2")), append(stored, "m1", "m2")
	}
	e.put("assets", first...)
	cp := e.checkpoint(proj)

	// Updating a document keeps its own unique value.
	e.put("assets", doc("a1", "asset_id", "x", "v", 2))
	cp = e.checkpoint(proj)

	// Violation against a stored document.
	err := e.commit(map[string][]readmodel.Doc{"assets": {doc("a3", "asset_id", "z"), doc("a4", "asset_id", "x")}},
		map[string][]string{"assets": {"a2"}})
	e.requireDuplicate(err, "assets", "by_asset")
	require.Equal(t, cp, e.checkpoint(proj), "a failed batch leaves the checkpoint")
	if e.has(Transactions, "a batch that fails on a unique index is rolled back whole") {
		require.Equal(t, stored, e.find("assets", readmodel.Filter{}), "the whole batch rolled back")
	}

	// Violation inside one batch.
	err = e.commit(map[string][]readmodel.Doc{"assets": {doc("b1", "asset_id", "q"), doc("b2", "asset_id", "q")}}, nil)
	e.requireDuplicate(err, "assets", "by_asset")
	require.Equal(t, cp, e.checkpoint(proj))
	if e.has(Transactions, "a batch that fails on a unique index is rolled back whole") {
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
	e.requireDuplicate(err, "registry_images", "by_image")
	require.Equal(t, cp, e.checkpoint(proj))
	if e.has(Transactions, "a batch that fails on a compound unique index is rolled back whole") {
		require.Equal(t, int64(3), e.count("registry_images", readmodel.Filter{}))
	}
	if e.has(PartialIndexes, "documents that lack a field of a compound unique index do not collide") {
		e.put("registry_images", doc("p1", "account_id", "acc", "repository_name", "repo"), doc("p2", "account_id", "acc", "repository_name", "repo"))
	}
}

// testDeletesBeforePuts: a batch's deletes apply before its puts, in every
// collection and in every mode, so one batch can hand the unique values of
// the documents it deletes to the documents it writes (a finding re-keyed
// under a new id, an image pushed again under a new record). A store that
// ran the puts first would fail such a batch with a false duplicate-key
// error: an unordered MongoDB bulk write runs its updates (upserts
// included) before its deletes.
func testDeletesBeforePuts(t *testing.T, e *env) {
	e.ensure("assets", assetIndex)
	e.ensure("registry_images", imageIndex)
	img := func(id, digest string) readmodel.Doc {
		return doc(id, "account_id", "acc", "repository_name", "repo", "image_digest", digest)
	}
	e.put("assets", doc("a1", "asset_id", "x1"), doc("a2", "asset_id", "x2"), doc("a3", "asset_id", "x3"), doc("keep", "asset_id", "k"))
	e.put("registry_images", img("i1", "sha:1"), img("i2", "sha:2"))
	cp := e.checkpoint(proj)

	// Every deleted document's unique value goes to a new document, or to
	// a stored one (keep takes x3), in two collections at once.
	require.NoError(t, e.commit(map[string][]readmodel.Doc{
		"assets":          {doc("b1", "asset_id", "x1"), doc("b2", "asset_id", "x2"), doc("keep", "asset_id", "x3")},
		"registry_images": {img("j1", "sha:1")},
	}, map[string][]string{"assets": {"a1", "a2", "a3"}, "registry_images": {"i1"}}))
	require.Equal(t, cp+1, e.checkpoint(proj), "the checkpoint moved")
	require.Equal(t, []string{"b1", "b2", "keep"}, e.find("assets", readmodel.Filter{}))
	require.Equal(t, doc("b1", "asset_id", "x1"), e.get("assets", "b1"))
	require.Equal(t, doc("keep", "asset_id", "x3"), e.get("assets", "keep"))
	require.Equal(t, []string{"i2", "j1"}, e.find("registry_images", readmodel.Filter{}))
	require.Equal(t, img("j1", "sha:1"), e.get("registry_images", "j1"))

	// And back: the old ids return with their values.
	require.NoError(t, e.commit(map[string][]readmodel.Doc{
		"assets":          {doc("a1", "asset_id", "x1"), doc("a2", "asset_id", "x2"), doc("a3", "asset_id", "x3")},
		"registry_images": {img("i1", "sha:1")},
	}, map[string][]string{"assets": {"b1", "b2", "keep"}, "registry_images": {"j1"}}))
	require.Equal(t, cp+2, e.checkpoint(proj))
	require.Equal(t, []string{"a1", "a2", "a3"}, e.find("assets", readmodel.Filter{}))
	require.Equal(t, []string{"i1", "i2"}, e.find("registry_images", readmodel.Filter{}))

	// The unique indexes still hold after both batches.
	e.requireDuplicate(e.commit(map[string][]readmodel.Doc{"assets": {doc("c1", "asset_id", "x1")}}, nil), "assets", "by_asset")
	require.Equal(t, cp+2, e.checkpoint(proj))
}

func (e *env) requireDuplicate(err error, coll, index string) {
	e.t.Helper()
	require.ErrorIs(e.t, err, readmodel.ErrDuplicate)
	var dup *readmodel.DuplicateError
	require.True(e.t, errors.As(err, &dup), "a *readmodel.DuplicateError: %v", err)
	require.Equal(e.t, coll, dup.Collection)
	if e.has(DuplicateKeyDetails, "a duplicate-key error names the unique index") {
		require.Equal(e.t, index, dup.Index)
	}
}

func testTTL(t *testing.T, e *env) {
	e.need(TTLIndexes)
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

// testTTLPolicy: SetTTLs (readmodel.TTLTuner, decision 101) moves a
// declared TTL index's expiry, shadow collections with their live one; 0
// keeps the documents; without an override the declared TTL is back.
func testTTLPolicy(t *testing.T, e *env) {
	e.need(TTLIndexes)
	tuner, ok := e.s.(readmodel.TTLTuner)
	require.True(t, ok, "both adapters implement readmodel.TTLTuner")
	const day = 24 * time.Hour
	declared := readmodel.Index{Name: "expire_finished", Fields: []readmodel.IndexField{{Path: "finished_at"}}, TTL: 180 * day}
	shadow, err := readmodel.ShadowName("runs", "rebuild")
	require.NoError(t, err)
	for _, coll := range []string{"runs", shadow} {
		e.ensure(coll, declared)
		e.put(coll,
			doc("d40", "finished_at", t0.Add(-40*day)),
			doc("d20", "finished_at", t0.Add(-20*day)),
			doc("d200", "finished_at", t0.Add(-200*day)))
	}
	key := readmodel.TTLKey{Collection: "runs", Index: "expire_finished"}

	_, err = tuner.SetTTLs(e.ctx, map[readmodel.TTLKey]time.Duration{{Collection: shadow, Index: "expire_finished"}: 30 * day})
	require.ErrorIs(t, err, readmodel.ErrInvalid, "overrides name live collections")
	_, err = tuner.SetTTLs(e.ctx, map[readmodel.TTLKey]time.Duration{key: -time.Second})
	require.ErrorIs(t, err, readmodel.ErrInvalid)

	changed, err := tuner.SetTTLs(e.ctx, map[readmodel.TTLKey]time.Duration{key: 30 * day})
	require.NoError(t, err)
	withTTL := func(d time.Duration) readmodel.Index { ix := declared; ix.TTL = d; return ix }
	if e.info.ServerTTL {
		require.Equal(t, 2, changed, "the live and the shadow collection's index changed on the server")
		for _, coll := range []string{"runs", shadow} {
			require.Contains(t, e.listIndexes(coll), withTTL(30*day), "collMod set expireAfterSeconds on %s", coll)
		}
		e.ensure("runs", declared) // a projector starting after the policy
		require.Contains(t, e.listIndexes("runs"), withTTL(30*day), "EnsureCollection keeps the override")
		_, err = tuner.SetTTLs(e.ctx, map[readmodel.TTLKey]time.Duration{key: 0})
		require.NoError(t, err)
		require.Contains(t, e.listIndexes("runs"), withTTL(readmodel.MaxTTL), "a keep override expires nothing for ~68 years")
		_, err = tuner.SetTTLs(e.ctx, nil)
		require.NoError(t, err)
		e.ensure("runs", declared)
		require.Contains(t, e.listIndexes("runs"), declared, "without an override EnsureCollection restores the declared TTL")
		return
	}
	require.Zero(t, changed, "SQLite changes no index: the TTL is the sweep's")
	require.Contains(t, e.listIndexes("runs"), declared, "the stored declaration is unchanged")
	n, err := e.s.SweepExpired(e.ctx, t0)
	require.NoError(t, err)
	require.Equal(t, int64(4), n, "policy 30 days: 40 and 200 days past are dropped, in the live and the shadow collection")
	for _, coll := range []string{"runs", shadow} {
		require.Equal(t, []string{"d20"}, e.find(coll, readmodel.Filter{}), "20 days past is kept in %s", coll)
	}

	_, err = tuner.SetTTLs(e.ctx, map[readmodel.TTLKey]time.Duration{key: 0})
	require.NoError(t, err)
	n, err = e.s.SweepExpired(e.ctx, t0.Add(3650*day))
	require.NoError(t, err)
	require.Zero(t, n, "a 0-day policy keeps the documents")

	_, err = tuner.SetTTLs(e.ctx, nil)
	require.NoError(t, err)
	e.put("runs", doc("d170", "finished_at", t0.Add(-170*day)), doc("d190", "finished_at", t0.Add(-190*day)))
	n, err = e.s.SweepExpired(e.ctx, t0)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "without an override the declared 180 days hold")
	require.Equal(t, []string{"d170", "d20"}, e.find("runs", readmodel.Filter{}))
}

// mutedIndex holds only the documents that have the muted flag
// (Index.Partial; decision 109).
var mutedIndex = readmodel.Index{Name: "by_team_muted_at", Partial: "muted",
	Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "muted"}, {Path: "at", Desc: true}}}

// A partial index answers the queries that filter its field the same as
// no index: equality on the flag finds the flagged documents, in the
// sorted order; Ne and the other filters find the others, the documents
// without the field among them; a document that gains or loses the flag
// moves in and out.
func testPartialIndex(t *testing.T, e *env) {
	e.ensure("flags", mutedIndex)
	at := func(h int) time.Time { return time.Date(2025, 3, 1, h, 0, 0, 0, time.UTC) }
	e.put("flags",
		doc("f1", "team_id", "t", "muted", true, "at", at(1)),
		doc("f2", "team_id", "t", "at", at(2)),
		doc("f3", "team_id", "t", "muted", true, "at", at(3)),
		doc("f4", "team_id", "t", "muted", false, "at", at(4)),
		doc("f5", "team_id", "u", "muted", true, "at", at(5)),
	)
	muted := readmodel.And(readmodel.Eq("team_id", "t"), readmodel.Eq("muted", true))
	notMuted := readmodel.And(readmodel.Eq("team_id", "t"), readmodel.Ne("muted", true))
	require.Equal(t, []string{"f3", "f1"}, e.find("flags", muted, readmodel.Desc("at")))
	require.Equal(t, []string{"f4", "f2"}, e.find("flags", notMuted, readmodel.Desc("at")))
	require.Equal(t, []string{"f4", "f3", "f2", "f1"}, e.find("flags", readmodel.Eq("team_id", "t"), readmodel.Desc("at")))
	n, err := e.s.Count(e.ctx, "flags", muted)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	e.put("flags", doc("f1", "team_id", "t", "at", at(1)), doc("f2", "team_id", "t", "muted", true, "at", at(2)))
	require.Equal(t, []string{"f3", "f2"}, e.find("flags", muted, readmodel.Desc("at")))
	require.Equal(t, []string{"f4", "f1"}, e.find("flags", notMuted, readmodel.Desc("at")))

	if e.has(PartialIndexes, "a partial index is listed as declared") {
		require.Equal(t, []readmodel.Index{mutedIndex}, e.listIndexes("flags"))
	}
	// A partial index must be on one of its fields, and not unique.
	bad := mutedIndex
	bad.Partial = "other"
	require.ErrorIs(t, e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "flags", Indexes: []readmodel.Index{bad}}), readmodel.ErrInvalid)
	bad = mutedIndex
	bad.Unique = true
	require.ErrorIs(t, e.s.EnsureCollection(e.ctx, readmodel.CollectionSpec{Name: "flags", Indexes: []readmodel.Index{bad}}), readmodel.ErrInvalid)
}
