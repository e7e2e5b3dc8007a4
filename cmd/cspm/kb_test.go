package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/embeddings"
	"github.com/cspm-es/cspm-es/platform/embeddings/embeddingstest"
	kbquery "github.com/cspm-es/cspm-es/queries/knowledgebase"
)

const (
	kbShared = "Page the on-call engineer and open an incident ticket."
	kbOnlyA  = "Rotate the deploy keys of team A every Monday."
	kbOnlyB  = "Team B keeps its break-glass password in the red safe."
)

// kbSections is a Markdown document whose sections are texts (one chunk each).
func kbSections(texts ...string) string {
	var b strings.Builder
	for i, t := range texts {
		fmt.Fprintf(&b, "# Section %d\n\n%s\n\n", i+1, t)
	}
	return b.String()
}

// kbApp is the app with an embedding service (serve's scheduler off) and
// teams A and B each holding a document sharing a text.
func kbApp(t *testing.T, srv *embeddingstest.Server, opts ...fx.Option) (*testApp, []string, []string) {
	t.Helper()
	a := startAppWith(t, func(c *config.Config) {
		c.EmbeddingsURL, c.EmbeddingsModel, c.EmbeddingsInterval = srv.URL, "m1", 0
	}, opts...)
	asA := []string{"Authorization", "Bearer " + issueTestKey(t, a, "team-a", "analyst").Key}
	asB := []string{"Authorization", "Bearer " + issueTestKey(t, a, "team-b", "analyst").Key}
	must(t, a.call(t, http.MethodPost, "/api/v1/kb/documents", map[string]any{"title": "a", "format": "markdown", "text": kbSections(kbShared, kbOnlyA)}, asA...), http.StatusCreated)
	must(t, a.call(t, http.MethodPost, "/api/v1/kb/documents", map[string]any{"title": "b", "format": "markdown", "text": kbSections(kbOnlyB, "  "+kbShared)}, asB...), http.StatusCreated)
	return a, asA, asB
}

func (a *testApp) kbEnv(srv *embeddingstest.Server, model string) map[string]string {
	return map[string]string{"CSPM_EMBEDDINGS_URL": srv.URL, "CSPM_EMBEDDINGS_MODEL": model}
}

// embeddingStatus reads the team's status once the read models have everything.
func (a *testApp) embeddingStatus(t *testing.T, as []string) kbquery.EmbeddingStatus {
	t.Helper()
	head, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	var st kbquery.EmbeddingStatus
	eventually(t, 30*time.Second, "the knowledge base is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/kb/embeddings?min_position="+itoa(head), nil, as...)
		ans.data(t, &st)
		return !stale(ans)
	})
	return st
}

// `cspm kb embed` embeds each distinct text once across teams, says so
// when a second run has nothing to do, re-embeds for another model, and
// the server's semantic search finds the team's own chunks by them.
func TestKBEmbed_CLI(t *testing.T) {
	t.Parallel()
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	a, asA, asB := kbApp(t, srv)
	assert.Equal(t, kbquery.EmbeddingStatus{Model: "m1", Semantic: true, Chunks: 2, Texts: 2, Missing: 2}, a.embeddingStatus(t, asA))

	r := a.cli(t, nil, "kb", "embed")
	require.Equal(t, exitUsage, r.code, "no service configured")
	assert.Contains(t, r.stderr, "--embeddings-url")

	r = a.cli(t, a.kbEnv(srv, "m1"), "kb", "embed")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "embedded 3 chunk texts with m1 (1 requests); 0 of 3 had a vector before\n", r.stdout)
	for _, text := range []string{kbShared, kbOnlyA, kbOnlyB} {
		assert.Equal(t, 1, srv.Seen(text), "embedded once across teams: %q", text)
	}
	r = a.cli(t, a.kbEnv(srv, "m1"), "kb", "embed")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "nothing to embed: all 3 chunk texts have a vector of m1\n", r.stdout)
	assert.EqualValues(t, 3, srv.Texts.Load(), "the second run sent nothing")

	assert.Equal(t, kbquery.EmbeddingStatus{Model: "m1", Semantic: true, Chunks: 2, Texts: 2, Embedded: 2}, a.embeddingStatus(t, asA))
	var res kbquery.SearchResult
	must(t, a.call(t, http.MethodGet, "/api/v1/kb/search?q=who+is+on-call+for+incidents&mode=auto&k=5", nil, asB...), http.StatusOK).data(t, &res)
	assert.Equal(t, kbquery.ModeSemantic, res.Mode)
	require.Len(t, res.Hits, 2, "team B's two chunks, none of team A's")
	assert.Equal(t, "b", res.Hits[0].Title)
	assert.Equal(t, kbShared, res.Hits[0].Text)

	// Another model: every text again, for it; m1's stay.
	r = a.cli(t, a.kbEnv(srv, "m2"), "kb", "embed", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out kbEmbedResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, kbEmbedResult{Model: "m2", Texts: 3, Embedded: 3, Calls: 1}, out)
	r = a.cli(t, a.kbEnv(srv, "m1"), "kb", "embed", "--json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, kbEmbedResult{Model: "m1", Texts: 3, Before: 3}, out)
}

// A run killed mid-way keeps the vectors it recorded; the next run sends
// only the rest: every text is embedded once in all.
func TestKBEmbed_ResumesAfterAKill(t *testing.T) {
	t.Parallel()
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	a, asA, _ := kbApp(t, srv)
	more := []string{"Alpha runbook step.", "Beta runbook step.", "Gamma runbook step."}
	must(t, a.call(t, http.MethodPost, "/api/v1/kb/documents", map[string]any{"title": "more", "format": "markdown", "text": kbSections(more...)}, asA...), http.StatusCreated)

	// The service as the killed run sees it: the first request goes
	// through, the second kills the process (its context ends) mid-request.
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	var requests atomic.Int64
	dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			forward.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body) // read whole: the server then notices the client going away
		kill()
		<-r.Context().Done()
	}))
	t.Cleanup(dying.Close)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"kb", "embed", "--batch", "2"}, &stdout, &stderr, a.lookupEnv(a.kbEnv(&embeddingstest.Server{Server: dying}, "m1")))
	require.Equal(t, exitFailure, code, stdout.String())
	assert.Contains(t, stderr.String(), "stopped after 2 vector(s) recorded (run it again to go on)")
	assert.EqualValues(t, 2, srv.Texts.Load())

	r := a.cli(t, a.kbEnv(srv, "m1"), "kb", "embed", "--batch", "2")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "embedded 4 chunk texts with m1 (2 requests); 2 of 6 had a vector before\n", r.stdout)
	for _, text := range append([]string{kbShared, kbOnlyA, kbOnlyB}, more...) {
		assert.Equal(t, 1, srv.Seen(text), "once in all: %q", text)
	}
}

// serve's scheduled job embeds what the read model lists as missing, and
// counts it.
func TestKBEmbed_ServeScheduler(t *testing.T) {
	t.Parallel()
	srv := embeddingstest.New()
	t.Cleanup(srv.Close)
	var kb *kbService
	a, asA, _ := kbApp(t, srv, fx.Populate(&kb))
	a.embeddingStatus(t, asA) // projected
	emb, err := embeddings.New(embeddings.Config{URL: srv.URL})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	s := &embedScheduler{h: kb.Handlers, texts: readModelTexts{kb.Service}, emb: emb, model: "m1", interval: time.Hour,
		log: slog.New(slog.DiscardHandler), metrics: newEmbedMetrics(reg)}
	assert.EqualValues(t, 3, s.Once(context.Background()))
	assert.EqualValues(t, 0, s.Once(context.Background()), "the read model may lag: the store says they are done")
	assert.EqualValues(t, 3, srv.Texts.Load())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{"cspm_kb_embedded_total": 3, "cspm_kb_embed_runs_total{ok}": 2}, got)
	assert.Equal(t, kbquery.EmbeddingStatus{Model: "m1", Semantic: true, Chunks: 2, Texts: 2, Embedded: 2}, a.embeddingStatus(t, asA))
}
