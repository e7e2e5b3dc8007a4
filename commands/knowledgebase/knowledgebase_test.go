package knowledgebase_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/domain"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/embeddings"
	"github.com/cspm-es/cspm-es/platform/embeddings/embeddingstest"
)

type env struct {
	d   *ct.Deps
	h   *kbcmd.Handlers
	srv *embeddingstest.Server
	emb *embeddings.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	d := ct.New(t)
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	c, err := embeddings.New(embeddings.Config{URL: srv.URL, API: embeddings.OpenAI, Attempts: 1})
	require.NoError(t, err)
	return &env{d: d, h: kbcmd.New(d.Kit), srv: srv, emb: c}
}

// add adds a Markdown document whose sections are texts (one chunk each).
func (e *env) add(t *testing.T, meta commands.Meta, title string, texts ...string) string {
	t.Helper()
	res, err := e.h.AddDocument(context.Background(), meta, kbcmd.AddDocument{Title: title, Format: "markdown", Text: sections(texts...)})
	require.NoError(t, err)
	require.NotEmpty(t, res.ID)
	return res.ID
}

func sections(texts ...string) string {
	var b strings.Builder
	for i, t := range texts {
		fmt.Fprintf(&b, "# Section %d\n\n%s\n\n", i+1, t)
	}
	return b.String()
}

// texts is the store's view of the texts, read now.
func (e *env) texts(t *testing.T) *kbcmd.StoreTexts {
	t.Helper()
	st, err := kbcmd.LoadStoreTexts(context.Background(), e.d.Store, e.d.Codec)
	require.NoError(t, err)
	return st
}

func (e *env) job(model string, texts kbcmd.MissingTexts) kbcmd.EmbedJob {
	return kbcmd.EmbedJob{Model: model, Texts: texts, Embedder: e.emb, Meta: ct.TeamA}
}

func (e *env) run(t *testing.T, job kbcmd.EmbedJob) kbcmd.EmbedStats {
	t.Helper()
	st, err := e.h.EmbedMissing(context.Background(), job)
	require.NoError(t, err)
	return st
}

func TestDocumentCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	before := e.d.Head(t)
	res, err := e.h.AddDocument(ctx, ct.TeamA, kbcmd.AddDocument{Title: "Runbook", Format: "Markdown", Text: "# A\r\n\r\nalpha\r\n\r\n# B\r\nbeta"})
	require.NoError(t, err)
	assert.Equal(t, kbcmd.DocumentStreamID(res.ID), res.StreamID)
	recs := e.d.Stream(t, res.StreamID)
	require.Len(t, recs, 1)
	ct.AssertMetadata(t, ct.TeamA, recs...)
	added := e.d.Decoded(t, res.StreamID)[0].(kb.DocumentAdded)
	assert.Equal(t, kb.FormatMarkdown, added.Format)
	assert.Equal(t, "# A\n\nalpha\n\n# B\nbeta", added.Text)
	require.Len(t, added.Chunks, 2)
	assert.Equal(t, "B", added.Chunks[1].Heading)
	assert.Equal(t, before+1, e.d.Head(t))

	_, err = e.h.UpdateDocument(ctx, ct.TeamA, kbcmd.UpdateDocument{DocumentID: res.ID, Title: "Runbook 2", Text: "gamma"})
	require.NoError(t, err)
	// Another team's document is not found, and nothing is appended.
	head := e.d.Head(t)
	_, err = e.h.UpdateDocument(ctx, ct.TeamB, kbcmd.UpdateDocument{DocumentID: res.ID, Title: "x", Text: "x"})
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = e.h.RemoveDocument(ctx, ct.TeamB, kbcmd.RemoveDocument{DocumentID: res.ID})
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.Equal(t, head, e.d.Head(t))

	// Bad input names the field, nothing appended.
	_, err = e.h.AddDocument(ctx, ct.TeamA, kbcmd.AddDocument{Title: "big", Text: strings.Repeat("a", kb.MaxTextBytes+1)})
	ct.RequireFields(t, err, "text")
	_, err = e.h.AddDocument(ctx, ct.TeamA, kbcmd.AddDocument{Title: "", Format: "pdf", Text: "x"})
	ct.RequireFields(t, err, "title", "format")
	_, err = e.h.UpdateDocument(ctx, ct.TeamA, kbcmd.UpdateDocument{Title: "x", Text: "x"})
	ct.RequireFields(t, err, "document_id")
	assert.Equal(t, head, e.d.Head(t))

	_, err = e.h.RemoveDocument(ctx, ct.TeamA, kbcmd.RemoveDocument{DocumentID: res.ID})
	require.NoError(t, err)
	_, err = e.h.RemoveDocument(ctx, ct.TeamA, kbcmd.RemoveDocument{DocumentID: res.ID})
	ct.RequireRule(t, err, kb.CodeDocumentRemoved)
}

const (
	shared = "Page the on-call engineer and open an incident ticket."
	onlyA  = "Team A rotates its deploy keys on Mondays."
	onlyB  = "Team B's break-glass password lives in the red safe."
)

// The same chunk text in two documents of team A and one of team B is
// embedded once; the cache entries name no team and hold no text.
func TestEmbedDedupAcrossDocumentsAndTeams(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(t, ct.TeamA, "a1", shared, onlyA)
	e.add(t, ct.TeamA, "a2", shared)
	e.add(t, ct.TeamB, "b1", "  "+strings.ReplaceAll(shared, " ", "  "), onlyB)

	var progress [][2]int64
	job := e.job("m1", e.texts(t))
	job.Progress = func(done, total int64) { progress = append(progress, [2]int64{done, total}) }
	st := e.run(t, job)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 3, Calls: 1}, st)
	assert.Equal(t, [][2]int64{{0, 3}, {3, 3}}, progress)
	for _, text := range []string{shared, onlyA, onlyB} {
		assert.Equal(t, 1, e.srv.Seen(text), "embedded once: %q", text)
	}
	assert.EqualValues(t, 3, e.srv.Texts.Load())

	for _, text := range []string{shared, onlyA, onlyB} {
		stream := kbcmd.EmbeddingStreamID(kb.ContentHash("m1", kb.TextHash(text)))
		recs := e.d.Stream(t, stream)
		require.Len(t, recs, 1, text)
		assert.Equal(t, kbcmd.SystemTeam, recs[0].Metadata.TeamID, "the cache is no team's")
		raw := string(recs[0].Data)
		for _, secret := range []string{"on-call", "deploy keys", "red safe", "team-a", "team-b"} {
			assert.NotContains(t, raw, secret, "no text and no team in the cache's events")
		}
		got := e.d.Decoded(t, stream)[0].(kb.EmbeddingRecorded)
		assert.Equal(t, embeddingstest.Vector("m1", text), got.Vector)
		assert.Equal(t, "m1", got.Model)
	}
}

// A second run embeds nothing, even from a stale list (the store is
// checked); another model embeds every text again and leaves the first
// model's vectors be; a changed document embeds only its new text.
func TestEmbedIdempotentAndReembedForAnotherModel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.add(t, ct.TeamA, "a1", shared, onlyA)
	e.add(t, ct.TeamB, "b1", onlyB)
	stale := e.texts(t)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 3, Calls: 1}, e.run(t, e.job("m1", stale)))

	assert.Equal(t, kbcmd.EmbedStats{}, e.run(t, e.job("m1", e.texts(t))), "nothing missing")
	assert.Equal(t, kbcmd.EmbedStats{Skipped: 3}, e.run(t, e.job("m1", stale)), "a stale list: the store says they are done")
	assert.EqualValues(t, 1, e.srv.Calls.Load())

	head := e.d.Head(t)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 3, Calls: 1}, e.run(t, e.job("m2", e.texts(t))), "another model: all again")
	assert.Equal(t, head+3, e.d.Head(t))
	assert.Equal(t, kbcmd.EmbedStats{}, e.run(t, e.job("m2", e.texts(t))))
	for _, text := range []string{shared, onlyA, onlyB} {
		assert.Len(t, e.d.Stream(t, kbcmd.EmbeddingStreamID(kb.ContentHash("m1", kb.TextHash(text)))), 1, "m1's vector stays")
	}
	total, done, err := e.texts(t).CountTexts(context.Background(), "m1")
	require.NoError(t, err)
	assert.Equal(t, [2]int64{3, 3}, [2]int64{total, done})

	_, err = e.h.UpdateDocument(context.Background(), ct.TeamA, kbcmd.UpdateDocument{DocumentID: id, Title: "a1", Format: "markdown", Text: sections(shared, "A new paragraph.")})
	require.NoError(t, err)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 1, Calls: 1}, e.run(t, e.job("m1", e.texts(t))), "only the new text")
	assert.Equal(t, 1, e.srv.Seen("A new paragraph."))
	total, _, err = e.texts(t).CountTexts(context.Background(), "m1")
	require.NoError(t, err)
	assert.EqualValues(t, 3, total, "onlyA's text is no document's any more")
}

type memCheckpoint struct {
	mu    sync.Mutex
	after map[string]string
	saves int
}

func (c *memCheckpoint) Load(model string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.after[model], nil
}

func (c *memCheckpoint) Save(model, after string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after[model] = after
	c.saves++
	return nil
}

// A job cut short (killed after its first batch) keeps what it recorded
// and its checkpoint; the next run resumes after it and embeds every
// text exactly once in all.
func TestEmbedResumesAfterInterruption(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var texts []string
	for i := range 7 {
		texts = append(texts, "Paragraph number "+strings.Repeat("x", i+1)+" of the runbook.")
	}
	e.add(t, ct.TeamA, "long", texts...)
	e.add(t, ct.TeamB, "other", onlyB)
	list := e.texts(t)
	total, _, err := list.CountTexts(context.Background(), "m1")
	require.NoError(t, err)

	cp := &memCheckpoint{after: map[string]string{}}
	ctx, kill := context.WithCancel(context.Background())
	job := e.job("m1", list)
	job.Batch, job.Checkpoint = 2, cp
	job.Progress = func(done, _ int64) {
		if done > 0 {
			kill() // the process dies after its first batch
		}
	}
	st, err := e.h.EmbedMissing(ctx, job)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 2, Calls: 1}, st)
	first, _ := cp.Load("m1")
	require.NotEmpty(t, first, "the checkpoint is after the first batch")

	job.Progress = nil
	rest := e.run(t, job)
	assert.Equal(t, total-2, rest.Embedded, "the rest, from the checkpoint")
	assert.Zero(t, rest.Skipped, "nothing before the checkpoint is listed again")
	assert.Equal(t, total, e.srv.Texts.Load(), "every text sent once in all")
	for _, text := range append(texts, onlyB) {
		assert.Equal(t, 1, e.srv.Seen(text), text)
	}
	done, _ := cp.Load("m1")
	assert.Empty(t, done, "a finished job clears its checkpoint")
	assert.Equal(t, kbcmd.EmbedStats{Skipped: total}, e.run(t, job), "the old list again: the store says every text is done")
	job.Texts = e.texts(t)
	assert.Equal(t, kbcmd.EmbedStats{}, e.run(t, job), "the next run has nothing to do")
	assert.Equal(t, total, e.srv.Texts.Load())
}

// A refusal of the service stops the job with the service's error; what
// was recorded stays, and a rerun completes.
func TestEmbedServiceDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(t, ct.TeamA, "a", shared, onlyA)
	e.srv.FailNext.Store(1)
	_, err := e.h.EmbedMissing(context.Background(), e.job("m1", e.texts(t)))
	var se *embeddings.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.Status)
	assert.Equal(t, kbcmd.EmbedStats{Embedded: 2, Calls: 1}, e.run(t, e.job("m1", e.texts(t))))
	_, err = e.h.EmbedMissing(context.Background(), kbcmd.EmbedJob{Model: "m1"})
	assert.Error(t, err, "a job needs texts and an embedder")
}
