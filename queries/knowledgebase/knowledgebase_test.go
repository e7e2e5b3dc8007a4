package knowledgebase_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/embeddings"
	"github.com/cspm-es/cspm-es/platform/embeddings/embeddingstest"
	"github.com/cspm-es/cspm-es/queries"
	qkb "github.com/cspm-es/cspm-es/queries/knowledgebase"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

const model = "m1"

// The documents of the world.
const (
	keysText = "# Access keys\n\nRotate IAM access keys every 90 days; the check iam_rotate_access_key_90_days and NIST AC-2 cover it.\n\n" +
		"# Buckets\n\nA public bucket fails s3_bucket_public_access. Also unknown_made_up_check and XY-9.\n\n" +
		"# Patching\n\nPatch CVE-2024-3094 in xz and GHSA-jfh8-c2jp-5v3q (finding fnd-0123456789abcdef0123456789abcdef)."
	sharedText = "Incident response: page the on-call engineer and open a ticket."
	zebraText  = "Team B's secret zebra runbook for rotating keys."
)

type world struct {
	h   *qt.History
	env *qt.Env
}

func add(t *testing.T, h *qt.History, team, id string, format kb.Format, text string) {
	t.Helper()
	evs, err := kb.AddDocument(id, kb.DocumentSpec{Title: "doc " + id, Format: format, Text: text}, kb.DefaultChunking, qt.T0)
	require.NoError(t, err)
	h.AddAs(team, "alice", evs[0])
}

// newWorld: team-a has a Markdown runbook (three sections mentioning a
// known check, a known requirement, an unknown check id, a CVE and a
// GHSA) and the shared incident text; team-b the shared text and a
// zebra runbook. A Prowler import described the checks (with NIST
// requirements). Every distinct text has a vector of m1 when embedded.
func newWorld(t *testing.T, embedded bool) *world {
	t.Helper()
	h := &qt.History{}
	add(t, h, "team-a", "keys", kb.FormatMarkdown, keysText)
	add(t, h, "team-a", "ir-a", kb.FormatText, sharedText)
	add(t, h, "team-b", "ir-b", kb.FormatText, sharedText)
	add(t, h, "team-b", "zebra", kb.FormatText, zebraText)
	h.Add("team-a", csdomain.ChecksDescribed{ImportID: "imp-1", EvaluatedAt: qt.T0, Checks: []csdomain.CheckInfo{
		{CheckID: "iam_rotate_access_key_90_days", Title: "Ensure access keys are rotated every 90 days", Service: "iam",
			Compliance: map[string][]string{"NIST-800-53": {"AC-2"}}},
		{CheckID: "s3_bucket_public_access", Title: "Ensure S3 buckets are not public", Service: "s3"},
	}})
	if embedded {
		for _, text := range []string{sharedText, zebraText} {
			embed(t, h, text)
		}
		for _, c := range kb.Split(kb.Normalize(keysText), kb.FormatMarkdown, kb.DefaultChunking) {
			embed(t, h, kb.ChunkText(kb.Normalize(keysText), c))
		}
	}
	return &world{h: h, env: qt.NewEnv(t, h.Events)}
}

func embed(t *testing.T, h *qt.History, text string) {
	t.Helper()
	evs, err := kb.RecordEmbedding(model, kb.TextHash(text), embeddingstest.Vector(model, kb.NormalizeChunk(text)), qt.T0)
	require.NoError(t, err)
	h.Add("system", evs[0])
}

func (w *world) service() *qkb.Service { return qkb.New(w.env.Stores[dbregistry.KNOWLEDGE_BASE]) }

func semanticService(t *testing.T, w *world) (*qkb.Service, *embeddingstest.Server) {
	t.Helper()
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	c, err := embeddings.New(embeddings.Config{URL: srv.URL, API: embeddings.Ollama})
	require.NoError(t, err)
	return w.service().WithEmbedder(c, model), srv
}

func docIDs(hits []qkb.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.DocumentID
	}
	return out
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newWorld(t, false).service()
	list, err := s.ListDocuments(ctx, "team-a", queries.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	assert.ElementsMatch(t, []string{"keys", "ir-a"}, []string{list.Items[0].ID, list.Items[1].ID})
	for _, d := range list.Items {
		assert.Empty(t, d.Text, "a list holds no text")
	}
	d, err := s.GetDocument(ctx, "team-a", "keys")
	require.NoError(t, err)
	assert.Equal(t, "markdown", d.Format)
	assert.EqualValues(t, 3, d.Chunks)
	assert.Equal(t, kb.Normalize(keysText), d.Text)
	assert.Equal(t, "alice", d.CreatedBy)
	assert.Equal(t, qt.T0, d.CreatedAt.UTC())

	// Team isolation: another team's document is not found, by id.
	_, err = s.GetDocument(ctx, "team-b", "keys")
	assert.ErrorIs(t, err, queries.ErrNotFound)
	_, err = s.GetDocument(ctx, "team-a", "../team-b/zebra")
	assert.ErrorIs(t, err, queries.ErrNotFound)
	b, err := s.ListDocuments(ctx, "team-b", queries.Page{Limit: 10})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"ir-b", "zebra"}, []string{b.Items[0].ID, b.Items[1].ID})
	_, err = s.ListDocuments(ctx, "", queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

// BM25 needs no embedding service: the best chunk first, with the ids it
// mentions linked (known checks and requirements only).
func TestLexicalSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newWorld(t, false).service()
	res, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "rotate access keys"})
	require.NoError(t, err)
	assert.Equal(t, qkb.ModeLexical, res.Mode)
	require.NotEmpty(t, res.Hits)
	top := res.Hits[0]
	assert.Equal(t, "keys", top.DocumentID)
	assert.Equal(t, "Access keys", top.Heading)
	assert.EqualValues(t, 0, top.Chunk)
	assert.Greater(t, top.Score, 0.0)
	assert.Equal(t, []qkb.Link{
		{Kind: "check", ID: "iam_rotate_access_key_90_days", Title: "Ensure access keys are rotated every 90 days"},
		{Kind: "requirement", ID: "AC-2", Href: "/api/v1/compliance/NIST-800-53", Frameworks: []string{"NIST-800-53"}},
	}, top.Links)
	for i := 1; i < len(res.Hits); i++ {
		assert.GreaterOrEqual(t, res.Hits[i-1].Score, res.Hits[i].Score, "best first")
	}

	bucket, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "public bucket", K: 1})
	require.NoError(t, err)
	require.Len(t, bucket.Hits, 1)
	assert.Equal(t, []qkb.Link{{Kind: "check", ID: "s3_bucket_public_access", Title: "Ensure S3 buckets are not public"}}, bucket.Hits[0].Links,
		"the unknown check id and XY-9 are not linked")

	cve, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "xz patch", Mode: "AUTO"})
	require.NoError(t, err)
	assert.Equal(t, qkb.ModeLexical, cve.Mode, "auto without a service is lexical")
	require.NotEmpty(t, cve.Hits)
	assert.Equal(t, []qkb.Link{
		{Kind: "cve", ID: "CVE-2024-3094", Href: "/api/v1/vulnerabilities/CVE-2024-3094"},
		{Kind: "finding", ID: "fnd-0123456789abcdef0123456789abcdef", Href: "/api/v1/findings/fnd-0123456789abcdef0123456789abcdef/history"},
		{Kind: "ghsa", ID: "GHSA-jfh8-c2jp-5v3q", Href: "/api/v1/vulnerabilities/GHSA-jfh8-c2jp-5v3q"},
	}, cve.Hits[0].Links)

	none, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "the of and"})
	require.NoError(t, err)
	assert.Empty(t, none.Hits, "only stop words")
}

// A team finds only its own chunks, whatever the other teams hold.
func TestSearchTeamIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, true)
	for _, s := range []*qkb.Service{w.service(), func() *qkb.Service { s, _ := semanticService(t, w); return s }()} {
		for _, mode := range []string{qkb.ModeLexical, qkb.ModeAuto} {
			a, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "zebra runbook", Mode: mode, K: qkb.MaxK})
			require.NoError(t, err)
			assert.NotContains(t, docIDs(a.Hits), "zebra", mode)
			for _, h := range a.Hits {
				assert.Contains(t, []string{"keys", "ir-a"}, h.DocumentID, mode)
			}
			b, err := s.Search(ctx, "team-b", qkb.SearchRequest{Q: "incident on-call", Mode: mode, K: qkb.MaxK})
			require.NoError(t, err)
			require.NotEmpty(t, b.Hits)
			assert.Equal(t, "ir-b", b.Hits[0].DocumentID, "team B's copy of the shared text, not team A's")
			assert.NotContains(t, docIDs(b.Hits), "ir-a")
			assert.NotContains(t, docIDs(b.Hits), "keys")
		}
	}
	nobody, err := w.service().Search(ctx, "team-c", qkb.SearchRequest{Q: "keys"})
	require.NoError(t, err)
	assert.Empty(t, nobody.Hits)
}

// Semantic search embeds the query with the configured model and ranks
// the team's chunks by cosine; with no service it is refused naming mode.
func TestSemanticSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, true)
	s, srv := semanticService(t, w)
	res, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "rotating IAM access keys every 90 days", Mode: qkb.ModeSemantic, K: 2})
	require.NoError(t, err)
	assert.Equal(t, qkb.ModeSemantic, res.Mode)
	assert.Equal(t, model, res.Model)
	require.Len(t, res.Hits, 2)
	assert.Equal(t, "keys", res.Hits[0].DocumentID)
	assert.Equal(t, "Access keys", res.Hits[0].Heading)
	assert.Greater(t, res.Hits[0].Score, res.Hits[1].Score)
	assert.LessOrEqual(t, res.Hits[0].Score, 1.0+1e-9)
	assert.NotEmpty(t, res.Hits[0].Links)
	assert.EqualValues(t, 1, srv.Texts.Load(), "the query is embedded, nothing else")

	auto, err := s.Search(ctx, "team-a", qkb.SearchRequest{Q: "rotating IAM access keys every 90 days", Mode: qkb.ModeAuto, K: 2})
	require.NoError(t, err)
	assert.Equal(t, qkb.ModeSemantic, auto.Mode, "auto with a service is semantic")
	assert.True(t, auto.Cached, "the same search as semantic")

	_, err = w.service().Search(ctx, "team-a", qkb.SearchRequest{Q: "keys", Mode: qkb.ModeSemantic})
	requireFields(t, err, "mode")

	// Chunks without a vector of the model are not found semantically.
	bare, _ := semanticService(t, newWorld(t, false))
	none, err := bare.Search(ctx, "team-a", qkb.SearchRequest{Q: "keys", Mode: qkb.ModeSemantic})
	require.NoError(t, err)
	assert.Empty(t, none.Hits)
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var ve interface{ Error() string }
	require.Error(t, err)
	ve = err
	for _, f := range fields {
		assert.Contains(t, ve.Error(), f+":")
	}
}

func TestSearchValidation(t *testing.T) {
	t.Parallel()
	s := newWorld(t, false).service()
	for _, tc := range []struct {
		req   qkb.SearchRequest
		field string
	}{
		{qkb.SearchRequest{Q: " "}, "q"},
		{qkb.SearchRequest{Q: string(make([]byte, qkb.MaxQueryBytes+1))}, "q"},
		{qkb.SearchRequest{Q: "x", Mode: "fuzzy"}, "mode"},
		{qkb.SearchRequest{Q: "x", K: qkb.MaxK + 1}, "k"},
		{qkb.SearchRequest{Q: "x", K: -1}, "k"},
	} {
		_, err := s.Search(context.Background(), "team-a", tc.req)
		requireFields(t, err, tc.field)
	}
	_, err := s.Search(context.Background(), "", qkb.SearchRequest{Q: "x"})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

// The search cache answers a repeated search; a new document of the
// team (or a new vector, for semantic searches) invalidates it.
func TestSearchCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, true)
	s, srv := semanticService(t, w)
	req := qkb.SearchRequest{Q: "zebra runbook"}
	first, err := s.Search(ctx, "team-a", req)
	require.NoError(t, err)
	assert.False(t, first.Cached)
	again, err := s.Search(ctx, "team-a", req)
	require.NoError(t, err)
	assert.True(t, again.Cached)
	assert.Equal(t, docIDs(first.Hits), docIDs(again.Hits))
	other, err := s.Search(ctx, "team-b", req)
	require.NoError(t, err)
	assert.False(t, other.Cached, "another team's search is its own")

	sem := qkb.SearchRequest{Q: "zebra runbook", Mode: qkb.ModeSemantic}
	_, err = s.Search(ctx, "team-a", sem)
	require.NoError(t, err)
	_, err = s.Search(ctx, "team-a", sem)
	require.NoError(t, err)
	assert.EqualValues(t, 1, srv.Texts.Load(), "the cached semantic search does not embed the query again")

	// Team A adds a zebra document: the next search finds it.
	add(t, w.h, "team-a", "zebra-a", kb.FormatText, "Our own zebra runbook.")
	w.env.Seed(t, w.h.Events)
	after, err := s.Search(ctx, "team-a", req)
	require.NoError(t, err)
	assert.False(t, after.Cached)
	assert.Equal(t, "zebra-a", after.Hits[0].DocumentID)
	stillB, err := s.Search(ctx, "team-b", req)
	require.NoError(t, err)
	assert.True(t, stillB.Cached, "team B's documents did not change")

	// Its vector recorded: the semantic search is answered afresh and finds it.
	embed(t, w.h, "Our own zebra runbook.")
	w.env.Seed(t, w.h.Events)
	semAfter, err := s.Search(ctx, "team-a", sem)
	require.NoError(t, err)
	assert.False(t, semAfter.Cached)
	assert.Equal(t, "zebra-a", semAfter.Hits[0].DocumentID)
}

func TestEmbeddingStatusAndMissingTexts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, false)
	// Only the shared text has a vector of m1, and the zebra text one of m0.
	embed(t, w.h, sharedText)
	evs, err := kb.RecordEmbedding("m0", kb.TextHash(zebraText), []float32{1}, qt.At(time.Second))
	require.NoError(t, err)
	w.h.Add("system", evs[0])
	w.env.Seed(t, w.h.Events)
	s, _ := semanticService(t, w)

	a, err := s.EmbeddingStatus(ctx, "team-a")
	require.NoError(t, err)
	assert.Equal(t, qkb.EmbeddingStatus{Model: model, Semantic: true, Chunks: 4, Texts: 4, Embedded: 1, Missing: 3}, a)
	b, err := s.EmbeddingStatus(ctx, "team-b")
	require.NoError(t, err)
	assert.Equal(t, qkb.EmbeddingStatus{Model: model, Semantic: true, Chunks: 2, Texts: 2, Embedded: 1, Missing: 1}, b,
		"the zebra text's m0 vector does not count for m1")
	off, err := w.service().EmbeddingStatus(ctx, "team-a")
	require.NoError(t, err)
	assert.Equal(t, qkb.EmbeddingStatus{Chunks: 4, Texts: 4}, off)

	// The embedder's view: every team's distinct texts lacking m1, once.
	total, done, err := s.CountTexts(ctx, model)
	require.NoError(t, err)
	assert.EqualValues(t, 5, total, "3 keys chunks, the shared text once, zebra")
	assert.EqualValues(t, 1, done)
	var got []string
	after := ""
	for {
		page, next, err := s.MissingTexts(ctx, model, after, 2)
		require.NoError(t, err)
		for _, m := range page {
			got = append(got, m.TextHash)
			assert.Equal(t, m.TextHash, kb.TextHash(m.Text))
		}
		if next == "" {
			break
		}
		after = next
	}
	assert.Len(t, got, 4)
	assert.IsIncreasing(t, got, "hash order")
	assert.NotContains(t, got, kb.TextHash(sharedText))
	assert.Contains(t, got, kb.TextHash(zebraText), "an m0 vector is not an m1 one")
	m0, _, err := s.MissingTexts(ctx, "m0", "", 10)
	require.NoError(t, err)
	assert.Len(t, m0, 4, "for m0 only the zebra text is done")
}
