package api_test

import (
	"context"
	"time"

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
