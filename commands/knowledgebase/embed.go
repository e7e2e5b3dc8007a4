package knowledgebase

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
)

// MissingText is one distinct chunk text the cache lacks a vector of.
type MissingText struct {
	TextHash string
	Text     string
}

// MissingTexts pages through the distinct chunk texts of every team, in
// text-hash order after the cursor, that have no cache entry for model
// (the knowledge base's read model; declared here, its consumer).
type MissingTexts interface {
	MissingTexts(ctx context.Context, model, after string, limit int) (texts []MissingText, next string, err error)
	// CountTexts is how many distinct chunk texts there are, and how many
	// of them the cache has for model.
	CountTexts(ctx context.Context, model string) (total, embedded int64, err error)
}

// Embedder turns texts into vectors with one model (platform/embeddings).
type Embedder interface {
	Embed(ctx context.Context, model string, texts []string) ([][]float32, error)
}

// Checkpoint keeps where an embedding job got to (the last text hash it
// finished), so a job cut short resumes after it.
type Checkpoint interface {
	Load(model string) (after string, err error)
	Save(model, after string) error
}

// EmbedJob embeds every chunk text that has no vector for Model.
type EmbedJob struct {
	Model      string
	Batch      int // texts per call to the service (default 32)
	Texts      MissingTexts
	Embedder   Embedder
	Checkpoint Checkpoint // optional
	// Progress, when set, is told after each batch: texts done (embedded
	// or found embedded) and the total to do.
	Progress func(done, total int64)
	Meta     commands.Meta
}

// EmbedStats is what a job did.
type EmbedStats struct {
	Embedded int64 // vectors recorded
	Skipped  int64 // already in the cache (another embedder, or a rerun)
	Calls    int64 // calls to the embedding service
}

// EmbedMissing runs the job: page after the checkpoint through the texts
// the read model says lack a vector for the model; for each, the event
// store decides (an entry recorded since is skipped, not embedded again);
// the rest go to the service in batches, and each vector is recorded on
// its own stream ("embedding-<content hash>", appended expecting no
// stream: a race between two embedders records one). The checkpoint moves
// after each batch. Run twice, the second run embeds nothing.
func (h *Handlers) EmbedMissing(ctx context.Context, job EmbedJob) (EmbedStats, error) {
	var st EmbedStats
	if job.Model == "" || job.Texts == nil || job.Embedder == nil {
		return st, fmt.Errorf("embed: job needs a model, texts and an embedder")
	}
	if job.Batch <= 0 {
		job.Batch = 32
	}
	after := ""
	if job.Checkpoint != nil {
		a, err := job.Checkpoint.Load(job.Model)
		if err != nil {
			return st, fmt.Errorf("embed: checkpoint: %w", err)
		}
		after = a
	}
	total, embedded, err := job.Texts.CountTexts(ctx, job.Model)
	if err != nil {
		return st, fmt.Errorf("embed: count: %w", err)
	}
	todo := max(total-embedded, 0)
	var done int64
	if job.Progress != nil {
		job.Progress(0, todo)
	}
	for {
		page, next, err := job.Texts.MissingTexts(ctx, job.Model, after, job.Batch)
		if err != nil {
			return st, fmt.Errorf("embed: list: %w", err)
		}
		var batch []MissingText
		for _, t := range page {
			ok, err := h.Embedded(ctx, job.Model, t.TextHash)
			if err != nil {
				return st, err
			}
			if ok {
				st.Skipped++
				continue
			}
			batch = append(batch, t)
		}
		if len(batch) > 0 {
			texts := make([]string, len(batch))
			for i, t := range batch {
				texts[i] = t.Text
			}
			st.Calls++
			vecs, err := job.Embedder.Embed(ctx, job.Model, texts)
			if err != nil {
				return st, fmt.Errorf("embed: %w", err)
			}
			if len(vecs) != len(batch) {
				return st, fmt.Errorf("embed: the service returned %d vectors for %d texts", len(vecs), len(batch))
			}
			for i, t := range batch {
				rec, err := h.RecordEmbedding(ctx, job.Meta, job.Model, t.TextHash, vecs[i])
				if err != nil {
					return st, err
				}
				if rec {
					st.Embedded++
				} else {
					st.Skipped++
				}
			}
		}
		done += int64(len(page))
		if job.Progress != nil {
			job.Progress(min(done, todo), todo)
		}
		if len(page) > 0 || next != "" {
			after = next
			if len(page) > 0 && page[len(page)-1].TextHash > after {
				after = page[len(page)-1].TextHash
			}
			if job.Checkpoint != nil {
				if err := job.Checkpoint.Save(job.Model, after); err != nil {
					return st, fmt.Errorf("embed: checkpoint: %w", err)
				}
			}
		}
		if next == "" || len(page) == 0 {
			break
		}
	}
	if job.Checkpoint != nil {
		// Done: the next job starts over (new texts may sort before).
		if err := job.Checkpoint.Save(job.Model, ""); err != nil {
			return st, fmt.Errorf("embed: checkpoint: %w", err)
		}
	}
	return st, nil
}
