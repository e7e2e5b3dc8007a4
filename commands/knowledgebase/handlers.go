// Package knowledgebase holds the knowledge base's command handlers: a
// team's documents ("kbdoc-<id>") and the embedding cache's entries
// ("embedding-<content hash>"), with the job that embeds what the cache
// lacks for a model (EmbedMissing: `cspm serve`'s embedder and `cspm kb
// reembed`). docs/knowledge-base.md.
package knowledgebase

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/commands"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Streams.
const (
	StreamTypeDocument  = "KnowledgeDocument"
	StreamTypeEmbedding = "Embedding"
	DocumentPrefix      = "kbdoc-"
	EmbeddingPrefix     = "embedding-"
)

// DocumentStreamID is the stream of a document.
func DocumentStreamID(id string) string { return DocumentPrefix + id }

// EmbeddingStreamID is the stream of one cache entry.
func EmbeddingStreamID(contentHash string) string { return EmbeddingPrefix + contentHash }

// Handlers runs the knowledge-base commands. Safe for concurrent use.
type Handlers struct {
	kit      *commands.Kit
	chunking kb.Chunking
}

// New returns the handlers on kit with the default chunking.
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("knowledgebase.New: nil kit")
	}
	return &Handlers{kit: kit, chunking: kb.DefaultChunking}
}

// WithChunking sets the chunking of documents added or updated from now.
func (h *Handlers) WithChunking(c kb.Chunking) *Handlers {
	h.chunking = c
	return h
}

func docCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: DocumentStreamID(id), Type: StreamTypeDocument}
}

// AddDocument adds a document to the caller's team.
type AddDocument struct {
	Title  string `json:"title"`
	Format string `json:"format,omitempty"` // text (default) or markdown
	Text   string `json:"text"`
}

// UpdateDocument replaces a document's title, format and text.
type UpdateDocument struct {
	DocumentID string `json:"-"`
	Title      string `json:"title"`
	Format     string `json:"format,omitempty"`
	Text       string `json:"text"`
}

// RemoveDocument removes a document.
type RemoveDocument struct {
	DocumentID string `json:"-"`
}

// AddDocument adds a document under a new id (Result.ID).
func (h *Handlers) AddDocument(ctx context.Context, meta commands.Meta, cmd AddDocument) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := docCall("AddDocument", "", cmd)
	c.StreamID = DocumentStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]kb.Event, error) {
		return kb.AddDocument(id, kb.DocumentSpec{Title: cmd.Title, Format: kb.Format(strings.ToLower(cmd.Format)), Text: cmd.Text}, h.chunking, h.kit.Now())
	})
	res.ID = strings.TrimPrefix(res.StreamID, DocumentPrefix)
	return res, err
}

// UpdateDocument replaces the team's document.
func (h *Handlers) UpdateDocument(ctx context.Context, meta commands.Meta, cmd UpdateDocument) (commands.Result, error) {
	return h.decide(ctx, meta, docCall("UpdateDocument", cmd.DocumentID, cmd), func(d *kb.Document) ([]kb.Event, error) {
		return d.Update(kb.DocumentSpec{Title: cmd.Title, Format: kb.Format(strings.ToLower(cmd.Format)), Text: cmd.Text}, h.chunking, h.kit.Now())
	})
}

// RemoveDocument removes the team's document.
func (h *Handlers) RemoveDocument(ctx context.Context, meta commands.Meta, cmd RemoveDocument) (commands.Result, error) {
	return h.decide(ctx, meta, docCall("RemoveDocument", cmd.DocumentID, cmd), func(d *kb.Document) ([]kb.Event, error) {
		return d.Remove(h.kit.Now())
	})
}

func (h *Handlers) decide(ctx context.Context, meta commands.Meta, c commands.Call, f func(*kb.Document) ([]kb.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("document_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	res, err := commands.Update(ctx, h.kit, meta, c, func(history []kb.Event) ([]kb.Event, error) {
		return f(kb.RehydrateDocument(history...))
	})
	res.ID = c.TargetID
	return res, err
}

// SystemTeam is the team the embedding events are recorded under: the
// cache is no team's (decision 81).
const SystemTeam = "system"

// Embedded reports whether the cache has the entry of model and text
// hash, from the event store (the truth: the read model may lag).
func (h *Handlers) Embedded(ctx context.Context, model, textHash string) (bool, error) {
	first, err := h.kit.Store().ReadStream(ctx, EmbeddingStreamID(kb.ContentHash(model, textHash)), eventstore.ReadStreamOptions{ToVersion: 1})
	if err != nil {
		return false, fmt.Errorf("embedding: read: %w", err)
	}
	return len(first) > 0, nil
}

// RecordEmbedding records one vector in the cache; recorded is false when
// the entry exists already (another embedder won: nothing is appended).
func (h *Handlers) RecordEmbedding(ctx context.Context, meta commands.Meta, model, textHash string, vector []float32) (recorded bool, err error) {
	events, err := kb.RecordEmbedding(model, textHash, vector, h.kit.Now())
	if err != nil {
		return false, err
	}
	meta.TeamID = SystemTeam
	md, err := commands.Metadata(meta)
	if err != nil {
		return false, err
	}
	c := commands.Call{Name: "RecordEmbedding", TargetID: kb.ContentHash(model, textHash), StreamID: EmbeddingStreamID(kb.ContentHash(model, textHash)), Type: StreamTypeEmbedding}
	req, err := h.kit.AppendRequest(c, eventstore.NoStream, md, eventstore.Idempotency{}, commands.Anys(events))
	if err != nil {
		return false, err
	}
	if _, err := h.kit.Store().Append(ctx, req); err != nil {
		if errors.Is(err, eventstore.ErrConflict) {
			return false, nil
		}
		return false, fmt.Errorf("RecordEmbedding: append: %w", err)
	}
	return true, nil
}
