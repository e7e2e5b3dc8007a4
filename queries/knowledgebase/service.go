// Package knowledgebase holds the knowledge base's queries over
// cspm_knowledge_base (docs/knowledge-base.md): documents, lexical (BM25)
// and semantic (cosine) search with a search cache, and the distinct
// texts the embedder reads.
package knowledgebase

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Collections read (the projection's, projections/knowledgebase).
const (
	documents   = "kb_documents"
	chunks      = "kb_chunks"
	postings    = "kb_postings"
	teams       = "kb_teams"
	texts       = "kb_texts"
	cache       = "embedding_cache"
	knownChecks = "kb_known_checks"
	knownReqs   = "kb_known_requirements"
	state       = "kb_state"
)

// QueryEmbedder embeds the query of a semantic search (platform/embeddings).
type QueryEmbedder interface {
	Embed(ctx context.Context, model string, texts []string) ([][]float32, error)
}

// Store is the part of the read-model store the service reads.
type Store interface {
	queries.DocReader
	Count(ctx context.Context, collection string, f readmodel.Filter) (int64, error)
}

// Service answers the knowledge-base queries. Safe for concurrent use.
type Service struct {
	kb       Store
	embedder QueryEmbedder // nil: no semantic search
	model    string
	cache    *lru
	vmu      sync.Mutex
	vectors  map[string]*teamVectors // team → its chunks' vectors for the model
	statuses map[string]statusEntry  // team → its embedding status, by generation
}

// New reads store; semantic search is off until WithEmbedder.
func New(store Store) *Service {
	return &Service{kb: store, cache: newLRU(DefaultCacheSize), vectors: map[string]*teamVectors{}, statuses: map[string]statusEntry{}}
}

// WithEmbedder turns on semantic search with model.
func (s *Service) WithEmbedder(e QueryEmbedder, model string) *Service {
	s.embedder, s.model = e, model
	return s
}

// Model is the configured embedding model ("" when none).
func (s *Service) Model() string { return s.model }

// Document is one document of the caller's team.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Format    string    `json:"format"`
	Bytes     int64     `json:"bytes"`
	Chunks    int64     `json:"chunks"`
	Text      string    `json:"text,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// DocumentList is one page of documents, most recently updated first.
type DocumentList struct {
	Items      []Document `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func documentOf(d readmodel.Doc, withText bool) Document {
	out := Document{ID: queries.Str(d, "document_id"), Title: queries.Str(d, "title"), Format: queries.Str(d, "format"),
		Bytes: queries.Num(d, "bytes"), Chunks: queries.Num(d, "chunks"), CreatedAt: queries.When(d, "created_at"),
		UpdatedAt: queries.When(d, "updated_at"), CreatedBy: queries.Str(d, "created_by")}
	if withText {
		out.Text = queries.Str(d, "text")
	}
	return out
}

// ListDocuments returns one page of the team's documents (without text).
func (s *Service) ListDocuments(ctx context.Context, team string, p queries.Page) (DocumentList, error) {
	if team == "" {
		return DocumentList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return DocumentList{}, err
	}
	page, err := queries.Find(ctx, s.kb, documents, readmodel.FindOptions{Filter: readmodel.Eq("team_id", team),
		Sort: []readmodel.SortField{readmodel.Desc("updated_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return DocumentList{}, fmt.Errorf("list documents: %w", err)
	}
	out := DocumentList{Items: make([]Document, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = documentOf(d, false)
	}
	return out, nil
}

// GetDocument returns the team's document with its text; another team's
// is queries.ErrNotFound.
func (s *Service) GetDocument(ctx context.Context, team, id string) (Document, error) {
	if team == "" {
		return Document{}, queries.ErrNoTeam
	}
	d, err := s.kb.Get(ctx, documents, teamKey(team)+"/"+id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return Document{}, queries.NotFound("document", id)
	case err != nil:
		return Document{}, fmt.Errorf("get document %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return Document{}, queries.NotFound("document", id)
	}
	return documentOf(d, true), nil
}

// teamKey is the team as the projection spells it in _ids.
func teamKey(team string) string { return url.PathEscape(team) }

// MissingTexts implements the embedder's port (commands/knowledgebase):
// distinct chunk texts after the text hash after, in hash order, with no
// cache entry for model. next is "" when the texts are exhausted.
func (s *Service) MissingTexts(ctx context.Context, model, after string, limit int) ([]MissingText, string, error) {
	limit = min(max(limit, 1), readmodel.MaxLimit)
	var out []MissingText
	cursorAfter := after
	for {
		f := readmodel.Filter{}
		if cursorAfter != "" {
			f = readmodel.Gt("_id", cursorAfter)
		}
		page, err := s.kb.Find(ctx, texts, readmodel.FindOptions{Filter: f, Sort: []readmodel.SortField{readmodel.Asc("_id")}, Limit: limit})
		if err != nil {
			return nil, "", fmt.Errorf("texts: %w", err)
		}
		if len(page.Docs) == 0 {
			return out, "", nil
		}
		// The page's cache entries in one read.
		ids := make([]any, len(page.Docs))
		for i, d := range page.Docs {
			ids[i] = kb.ContentHash(model, queries.Str(d, "_id"))
		}
		found, err := s.kb.Find(ctx, cache, readmodel.FindOptions{Filter: readmodel.In("_id", ids...), Limit: readmodel.MaxLimit})
		if err != nil {
			return nil, "", fmt.Errorf("cache: %w", err)
		}
		have := make(map[string]bool, len(found.Docs))
		for _, d := range found.Docs {
			have[queries.Str(d, "text_hash")] = true
		}
		for _, d := range page.Docs {
			h := queries.Str(d, "_id")
			cursorAfter = h
			if have[h] {
				continue
			}
			out = append(out, MissingText{TextHash: h, Text: queries.Str(d, "text")})
			if len(out) == limit {
				return out, cursorAfter, nil // more may follow
			}
		}
		if page.NextCursor == "" {
			return out, "", nil
		}
	}
}

// MissingText is a text the cache lacks.
type MissingText struct{ TextHash, Text string }

// CountTexts is how many distinct texts there are and how many vectors of
// model the cache holds (at most the texts): an estimate for the job's
// progress, since the cache keeps the vectors of texts no document holds
// any more. MissingTexts is exact.
func (s *Service) CountTexts(ctx context.Context, model string) (total, embedded int64, err error) {
	if total, err = s.kb.Count(ctx, texts, readmodel.Filter{}); err != nil {
		return 0, 0, fmt.Errorf("count texts: %w", err)
	}
	if embedded, err = s.kb.Count(ctx, cache, readmodel.Eq("model", model)); err != nil {
		return 0, 0, fmt.Errorf("count cache: %w", err)
	}
	return total, min(total, embedded), nil
}
