package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"

	"github.com/cspm-es/cspm-es/commands"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/queries"
	kbquery "github.com/cspm-es/cspm-es/queries/knowledgebase"
)

// fakeKnowledgeBase serves the knowledge-base routes: one document, one hit.
type fakeKnowledgeBase struct{}

var kbDoc = kbquery.Document{ID: "doc-1", Title: "Runbook", Format: "markdown", Bytes: 12, Chunks: 1,
	CreatedAt: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)}

func (fakeKnowledgeBase) AddDocument(context.Context, commands.Meta, kbcmd.AddDocument) (commands.Result, error) {
	return commands.Result{ID: "doc-1", StreamID: "kbdoc-doc-1", Version: 1, Position: 1}, nil
}

func (fakeKnowledgeBase) UpdateDocument(context.Context, commands.Meta, kbcmd.UpdateDocument) (commands.Result, error) {
	return commands.Result{ID: "doc-1", StreamID: "kbdoc-doc-1", Version: 2, Position: 2}, nil
}

func (fakeKnowledgeBase) RemoveDocument(context.Context, commands.Meta, kbcmd.RemoveDocument) (commands.Result, error) {
	return commands.Result{ID: "doc-1", StreamID: "kbdoc-doc-1", Version: 3, Position: 3}, nil
}

func (fakeKnowledgeBase) ListDocuments(context.Context, string, queries.Page) (kbquery.DocumentList, error) {
	return kbquery.DocumentList{Items: []kbquery.Document{kbDoc}}, nil
}

func (fakeKnowledgeBase) GetDocument(context.Context, string, string) (kbquery.Document, error) {
	d := kbDoc
	d.Text = "# Keys\n\nRotate."
	return d, nil
}

func (fakeKnowledgeBase) Search(context.Context, string, kbquery.SearchRequest) (kbquery.SearchResult, error) {
	return kbquery.SearchResult{Mode: kbquery.ModeLexical, Hits: []kbquery.Hit{{DocumentID: "doc-1", Title: "Runbook", Heading: "Keys",
		Text: "Rotate.", Score: 1.5, Links: []kbquery.Link{}}}}, nil
}

func (fakeKnowledgeBase) EmbeddingStatus(context.Context, string) (kbquery.EmbeddingStatus, error) {
	return kbquery.EmbeddingStatus{Chunks: 1, Texts: 1}, nil
}

// failingEmbedder is the knowledge base whose embedding service fails.
type failingEmbedder struct{ fakeKnowledgeBase }

func (failingEmbedder) Search(context.Context, string, kbquery.SearchRequest) (kbquery.SearchResult, error) {
	return kbquery.SearchResult{}, fmt.Errorf("search: embed the query: %w: %w", kbquery.ErrEmbeddingService, errors.New("connection refused"))
}

// A failing embedding service is a 503 naming no cause; the data's
// cache state is in X-Search-Cache.
func TestKnowledgeBaseSearchAnswers(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.ServerConfig{}, fullDeps(t))
	res := serve(t, srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/kb/search?q=keys"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	assert.Equal(t, "miss", res.Header.Get(api.HeaderSearchCache))

	deps := fullDeps(t)
	deps.KnowledgeBase = failingEmbedder{}
	res = serve(t, api.NewServer(api.ServerConfig{}, deps).Handler(), request{Method: http.MethodGet, Path: "/api/v1/kb/search?q=keys&mode=semantic"})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	assert.Equal(t, api.CodeUnavailable, res.Env.Error.Code)
	assert.NotContains(t, string(res.Raw), "connection refused")
	for _, q := range []string{"q=", "q=x&k=0", "q=x&k=abc", "q=x&mode="} {
		res = serve(t, srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/kb/search?" + q})
		assert.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", q, res.Raw)
	}
}
