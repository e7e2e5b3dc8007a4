package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/embeddings"
	"github.com/cspm-es/cspm-es/platform/embeddings/embeddingstest"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	kbquery "github.com/cspm-es/cspm-es/queries/knowledgebase"
)

// contractKB is the knowledge base as the process wires it: the command
// handlers and the queries, semantic search on a local embedding service.
type contractKB struct {
	*kbcmd.Handlers
	*kbquery.Service
	store *sqlite.Store
	emb   *embeddings.Client
}

func newContractKB(t *testing.T, kit *commands.Kit, store *sqlite.Store, rm *sqlitestore.Store) *contractKB {
	t.Helper()
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	emb, err := embeddings.New(embeddings.Config{URL: srv.URL})
	require.NoError(t, err)
	return &contractKB{Handlers: kbcmd.New(kit), Service: kbquery.New(rm).WithEmbedder(emb, "m1"), store: store, emb: emb}
}

// embed runs the embed job for the configured model.
func (k *contractKB) embed(t *testing.T) kbcmd.EmbedStats {
	t.Helper()
	texts, err := kbcmd.LoadStoreTexts(context.Background(), k.store, eventstore.NewDomainCodec())
	require.NoError(t, err)
	st, err := k.EmbedMissing(context.Background(), kbcmd.EmbedJob{Model: "m1", Texts: texts, Embedder: k.emb,
		Meta: commands.Meta{Actor: "test"}})
	require.NoError(t, err)
	return st
}

// knowledgeBaseContract adds, reads, searches (lexically, then
// semantically once embedded), updates and removes a document; another
// team sees none of it (called by TestOpenAPIContract).
func knowledgeBaseContract(t *testing.T, c *contract, env *contractEnv) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	analystB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}
	res := c.send(t, request{Path: "/api/v1/kb/documents", Body: exampleBody(t, c.doc, "addKnowledgeDocument")}, 201, docValid)
	added := data[commands.Result](t, res)
	assert.Equal(t, "/api/v1/kb/documents/"+added.ID, res.Header.Get("Location"))
	pos := strconv.FormatInt(added.Position, 10)

	list := data[[]kbquery.Document](t, c.get(t, "/api/v1/kb/documents?limit=10&min_position="+pos, 200, docValid, "Authorization", viewer["Authorization"]))
	require.Len(t, list, 1)
	doc := data[kbquery.Document](t, c.get(t, "/api/v1/kb/documents/"+added.ID, 200, docValid))
	assert.Contains(t, doc.Text, "iam_rotate_access_key_90_days")

	first := c.get(t, "/api/v1/kb/search?q=rotate+access+keys&mode=lexical&k=5", 200, docValid, "Authorization", viewer["Authorization"])
	assert.Equal(t, "miss", first.Header.Get("X-Search-Cache"))
	again := c.get(t, "/api/v1/kb/search?q=rotate+access+keys&mode=lexical&k=5", 200, docValid, "Authorization", viewer["Authorization"])
	assert.Equal(t, "hit", again.Header.Get("X-Search-Cache"))
	assert.Equal(t, string(first.Data), string(again.Data))
	hits := data[kbquery.SearchResult](t, first)
	require.Len(t, hits.Hits, 1)
	assert.Equal(t, added.ID, hits.Hits[0].DocumentID)
	assert.Equal(t, "Rotation", hits.Hits[0].Heading)
	status := data[kbquery.EmbeddingStatus](t, c.get(t, "/api/v1/kb/embeddings", 200, docValid))
	assert.Equal(t, kbquery.EmbeddingStatus{Model: "m1", Semantic: true, Chunks: 1, Texts: 1, Missing: 1}, status)
	none := data[kbquery.SearchResult](t, c.get(t, "/api/v1/kb/search?q=rotate+keys&mode=auto", 200, docValid))
	assert.Equal(t, kbquery.ModeSemantic, none.Mode)
	assert.Empty(t, none.Hits, "nothing embedded yet")
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 1, Calls: 1}, env.kb.embed(t))
	assert.Equal(t, kbcmd.EmbedStats{}, env.kb.embed(t), "a second run does nothing")
	sem := data[kbquery.SearchResult](t, c.get(t, "/api/v1/kb/search?q=rotating+IAM+keys&mode=semantic", 200, docValid))
	require.Len(t, sem.Hits, 1)
	assert.Equal(t, "m1", sem.Model)

	// Another team: nothing of it.
	c.get(t, "/api/v1/kb/documents/"+added.ID, 404, docValid, "Authorization", viewerB["Authorization"])
	assert.Empty(t, data[[]kbquery.Document](t, c.get(t, "/api/v1/kb/documents", 200, docValid, "Authorization", viewerB["Authorization"])))
	assert.Empty(t, data[kbquery.SearchResult](t, c.get(t, "/api/v1/kb/search?q=rotate", 200, docValid, "Authorization", viewerB["Authorization"])).Hits)
	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/kb/documents/" + added.ID, Body: exampleBody(t, c.doc, "updateKnowledgeDocument"), Header: analystB}, 404, docValid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/kb/documents/" + added.ID, Header: analystB}, 404, docValid)

	// Bad input, named.
	c.get(t, "/api/v1/kb/search", 400, docInvalid)
	c.get(t, "/api/v1/kb/search?q=x&mode=fuzzy", 400, docInvalid)
	c.get(t, "/api/v1/kb/search?q=x&k=51", 400, docInvalid)
	c.get(t, "/api/v1/kb/search?q=x&top=3", 400, docEither)
	c.send(t, request{Path: "/api/v1/kb/documents", Body: `{"title": "t", "format": "pdf", "text": "x"}`}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/kb/documents", Body: `{"title": "t", "text": " "}`}, 400, docEither)
	c.send(t, request{Path: "/api/v1/kb/documents", Body: `{"title": "t", "text": "` + strings.Repeat("x", 5<<10) + `"}`}, 413, docEither)
	c.send(t, request{Path: "/api/v1/kb/documents", Body: `{"title": "t", "text": "x"}`, Header: viewer}, 403, docValid)

	c.send(t, request{Method: http.MethodPut, Path: "/api/v1/kb/documents/" + added.ID, Body: exampleBody(t, c.doc, "updateKnowledgeDocument")}, 202, docValid)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/kb/documents/" + added.ID}, 202, docValid)
	res = c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/kb/documents/" + added.ID}, 422, docValid)
	assert.Equal(t, "DOCUMENT_REMOVED", res.Env.Error.Code)
	c.send(t, request{Method: http.MethodDelete, Path: "/api/v1/kb/documents/no-such-doc"}, 404, docValid)
}
