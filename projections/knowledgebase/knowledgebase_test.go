package knowledgebase_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	pkb "github.com/cspm-es/cspm-es/projections/knowledgebase"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func apply(t *testing.T, events []projections.Event) *qt.MemTx {
	t.Helper()
	tx := qt.NewMemTx()
	p := pkb.New()
	for _, ev := range events {
		if slices.Contains(p.EventTypes(), ev.Type) {
			require.NoError(t, p.Apply(context.Background(), tx, ev))
		}
	}
	return tx
}

// must is the one event a decision returned (a refusal fails the test).
func must(evs []kb.Event, err error) kb.Event {
	if err != nil || len(evs) != 1 {
		panic(fmt.Sprintf("decision: %d events, %v", len(evs), err))
	}
	return evs[0]
}

func ids(tx *qt.MemTx, coll string) []string { return slices.Sorted(maps.Keys(tx.Colls[coll])) }

const shared = "Rotate the access keys every 90 days."

// Given two teams' documents sharing a text, the documents, chunks,
// postings and one text row referenced twice.
func TestDocumentsChunksPostings(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	added := must(kb.AddDocument("d1", kb.DocumentSpec{Title: "Keys", Format: kb.FormatMarkdown, Text: "# Keys\n\n" + shared + "\n\n# MFA\n\nEnforce MFA (CVE-2024-3094)."},
		kb.DefaultChunking, qt.T0))
	h.AddAs("team-a", "alice", added)
	h.AddAs("team-b", "bob", must(kb.AddDocument("d9", kb.DocumentSpec{Title: "Same", Text: shared}, kb.DefaultChunking, qt.T0)))
	tx := apply(t, h.Events)

	assert.Equal(t, []string{"team-a/d1", "team-b/d9"}, ids(tx, pkb.Documents))
	d := tx.Colls[pkb.Documents]["team-a/d1"]
	assert.Equal(t, "team-a", d["team_id"])
	assert.EqualValues(t, 2, d["chunks"])
	assert.Equal(t, "alice", d["created_by"])
	assert.Equal(t, []string{"team-a/d1/0", "team-a/d1/1", "team-b/d9/0"}, ids(tx, pkb.Chunks))
	c := tx.Colls[pkb.Chunks]["team-a/d1/1"]
	assert.Equal(t, "MFA", c["heading"])
	assert.Equal(t, "Enforce MFA (CVE-2024-3094).", c["text"])
	assert.Equal(t, []any{"cve:CVE-2024-3094"}, c["mentions"])
	assert.Equal(t, []any{"2024", "3094", "cve", "enforce", "mfa"}, c["terms"])

	// Postings: one per team, term and chunk, with tf and the chunk's length.
	p := tx.Colls[pkb.Postings][pkb.PostingID("team-a", "keys", "team-a/d1/0")]
	require.NotNil(t, p)
	assert.Equal(t, readmodel.Doc{"_id": pkb.PostingID("team-a", "keys", "team-a/d1/0"), "team_id": "team-a", "term": "keys",
		"chunk_id": "team-a/d1/0", "tf": int64(1), "len": int64(6)}, p)
	assert.NotNil(t, tx.Colls[pkb.Postings][pkb.PostingID("team-b", "keys", "team-b/d9/0")])

	// The shared text: one row, two references; the team stats.
	texts := tx.Colls[pkb.Texts]
	assert.Len(t, texts, 2)
	assert.EqualValues(t, 2, texts[kb.TextHash(shared)]["refs"])
	assert.Equal(t, shared, texts[kb.TextHash(shared)]["text"])
	assert.Equal(t, readmodel.Doc{"_id": "team-a", "team_id": "team-a", "chunks": int64(2), "total_len": int64(11), "generation": int64(1)},
		tx.Colls[pkb.Teams]["team-a"])
	assert.EqualValues(t, 2, tx.Colls[pkb.Teams]["team-b"]["generation"])
}

// Given an update and a removal, the old chunks, postings and text
// references go; a text no chunk references any more goes too.
func TestUpdateAndRemove(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	a := must(kb.AddDocument("d1", kb.DocumentSpec{Title: "v1", Text: "alpha words\n\n" + shared}, kb.Chunking{Max: 50, Overlap: 5}, qt.T0))
	h.Add("team-a", a)
	h.Add("team-b", must(kb.AddDocument("d2", kb.DocumentSpec{Title: "b", Text: shared}, kb.DefaultChunking, qt.T0)))
	up := must(kb.RehydrateDocument(a).Update(kb.DocumentSpec{Title: "v2", Text: "beta words"}, kb.DefaultChunking, qt.At(time.Minute)))
	h.Add("team-a", up)
	tx := apply(t, h.Events)
	assert.Equal(t, []string{"team-a/d1/0", "team-b/d2/0"}, ids(tx, pkb.Chunks))
	assert.Equal(t, "beta words", tx.Colls[pkb.Chunks]["team-a/d1/0"]["text"])
	assert.Nil(t, tx.Colls[pkb.Postings][pkb.PostingID("team-a", "alpha", "team-a/d1/0")], "the old terms' postings are gone")
	assert.NotNil(t, tx.Colls[pkb.Postings][pkb.PostingID("team-a", "beta", "team-a/d1/0")])
	assert.Nil(t, tx.Colls[pkb.Texts][kb.TextHash("alpha words")])
	assert.EqualValues(t, 1, tx.Colls[pkb.Texts][kb.TextHash(shared)]["refs"], "team B's reference stays")
	d := tx.Colls[pkb.Documents]["team-a/d1"]
	assert.Equal(t, "v2", d["title"])
	assert.Equal(t, qt.T0, d["created_at"], "created_at stays")
	assert.Equal(t, qt.At(time.Minute), d["updated_at"])
	assert.EqualValues(t, 1, tx.Colls[pkb.Teams]["team-a"]["chunks"])
	assert.EqualValues(t, 2, tx.Colls[pkb.Teams]["team-a"]["total_len"])

	h.Add("team-b", must(kb.RehydrateDocument(kb.DocumentAdded{DocumentID: "d2"}).Remove(qt.At(time.Hour))))
	tx = apply(t, h.Events)
	assert.Equal(t, []string{"team-a/d1"}, ids(tx, pkb.Documents))
	assert.Nil(t, tx.Colls[pkb.Texts][kb.TextHash(shared)], "no chunk references it any more")
	assert.Equal(t, readmodel.Doc{"_id": "team-b", "team_id": "team-b", "chunks": int64(0), "total_len": int64(0), "generation": int64(4)},
		tx.Colls[pkb.Teams]["team-b"])
	for id := range tx.Colls[pkb.Postings] {
		assert.NotContains(t, id, "team-b/", "team B's postings are gone")
	}
}

// Given vectors and check descriptions, the cache has one entry per model
// and text (no text, no team) and the catalogue knows the ids.
func TestCacheAndCatalogue(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	for _, m := range []string{"m1", "m2"} {
		h.Add("system", must(kb.RecordEmbedding(m, kb.TextHash(shared), []float32{0.5, 1}, qt.T0)))
	}
	h.Add("team-a", csdomain.ChecksDescribed{ImportID: "i", Checks: []csdomain.CheckInfo{
		{CheckID: "iam_rotate_access_key_90_days", Title: "Rotate", Service: "iam", Compliance: map[string][]string{"CIS-5.0": {"1.14"}, "NIST": {"AC-2"}}},
		{CheckID: "iam_root_mfa_enabled", Title: "MFA", Compliance: map[string][]string{"NIST": {"AC-2", "IA-2"}}},
	}})
	tx := apply(t, h.Events)
	cache := tx.Colls[pkb.Cache]
	require.Len(t, cache, 2)
	e := cache[kb.ContentHash("m1", kb.TextHash(shared))]
	assert.Equal(t, readmodel.Doc{"_id": kb.ContentHash("m1", kb.TextHash(shared)), "content_hash": kb.ContentHash("m1", kb.TextHash(shared)),
		"text_hash": kb.TextHash(shared), "model": "m1", "dimensions": int64(2), pkb.VectorField: "AAAAPwAAgD8=", "recorded_at": qt.T0}, e)
	assert.Equal(t, pkb.EncodeVector([]float32{0.5, 1}), "AAAAPwAAgD8=", "0.5 and 1 as float32 little-endian")
	assert.Equal(t, readmodel.Doc{"_id": pkb.StateEmbedID, "generation": int64(2)}, tx.Colls[pkb.State][pkb.StateEmbedID])
	assert.Equal(t, []string{"iam_root_mfa_enabled", "iam_rotate_access_key_90_days"}, ids(tx, pkb.KnownChecks))
	assert.Equal(t, []string{"1.14", "AC-2", "IA-2"}, ids(tx, pkb.KnownReqs))
	assert.Equal(t, []any{"NIST"}, tx.Colls[pkb.KnownReqs]["AC-2"]["frameworks"], "once")

	// The cache's content_hash index is unique.
	for _, spec := range pkb.New().Collections() {
		if spec.Name == pkb.Cache {
			assert.True(t, spec.Indexes[0].Unique)
			assert.Equal(t, "content_hash", spec.Indexes[0].Fields[0].Path)
		}
	}
}

// Replaying the same events (a rebuild) builds the same documents.
func TestReplayIsDeterministic(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	for i, team := range []string{"team-a", "team-b", "team-a"} {
		h.Add(team, must(kb.AddDocument(string(rune('a'+i)), kb.DocumentSpec{Title: "t", Text: shared + " extra " + team}, kb.DefaultChunking, qt.T0)))
	}
	assert.Equal(t, apply(t, h.Events).Colls, apply(t, h.Events).Colls)
}
