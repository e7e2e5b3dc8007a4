package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/embeddings"
	kbquery "github.com/cspm-es/cspm-es/queries/knowledgebase"
)

// The knowledge base (docs/knowledge-base.md, decisions 80-81): a team's
// documents are commands on the kit (commands/knowledgebase); the
// projection builds cspm_knowledge_base (projections/knowledgebase); the
// queries answer /api/v1/kb with BM25 always and cosine search when an
// embedding service is configured (--embeddings-url, --embeddings-model).
// With a service and --embeddings-interval above 0, `cspm serve` (api
// role) runs the embed job every interval over the texts the read model
// lists without a vector of the model; `cspm kb embed` (kb.go) runs the
// same job by hand over the event store.

// kbService is api.KnowledgeBaseService: the commands and the queries.
type kbService struct {
	*kbcmd.Handlers
	*kbquery.Service
}

// newEmbedder is the configured embedding service's client, or nil.
func newEmbedder(cfg config.Config) (*embeddings.Client, error) {
	if cfg.EmbeddingsURL == "" {
		return nil, nil
	}
	c, err := embeddings.New(embeddings.Config{URL: cfg.EmbeddingsURL, API: embeddings.API(cfg.EmbeddingsAPI), APIKey: cfg.EmbeddingsAPIKey})
	if err != nil {
		return nil, fmt.Errorf("embedding service: %w", err)
	}
	return c, nil
}

// newKnowledgeBase wires the handlers on the kit and the queries over
// cspm_knowledge_base, semantic with the configured service.
func newKnowledgeBase(kit *commands.Kit, rm ReadModels, cfg config.Config) (*kbService, error) {
	q := kbquery.New(rm.Stores[dbregistry.KNOWLEDGE_BASE])
	emb, err := newEmbedder(cfg)
	if err != nil {
		return nil, err
	}
	if emb != nil {
		q = q.WithEmbedder(emb, cfg.EmbeddingsModel)
	}
	return &kbService{kbcmd.New(kit), q}, nil
}

// readModelTexts adapts the queries' texts to the embed job's port.
type readModelTexts struct{ q *kbquery.Service }

func (r readModelTexts) MissingTexts(ctx context.Context, model, after string, limit int) ([]kbcmd.MissingText, string, error) {
	page, next, err := r.q.MissingTexts(ctx, model, after, limit)
	out := make([]kbcmd.MissingText, len(page))
	for i, m := range page {
		out[i] = kbcmd.MissingText{TextHash: m.TextHash, Text: m.Text}
	}
	return out, next, err
}

func (r readModelTexts) CountTexts(ctx context.Context, model string) (int64, int64, error) {
	return r.q.CountTexts(ctx, model)
}

// embedActor is who the scheduled job's events name.
const (
	embedActor = "system:kb-embed"
	embedRoute = "serve kb embed"
)

var knowledgeBaseModule = fx.Module("knowledgebase",
	fx.Provide(newKnowledgeBase),
	fx.Invoke(startEmbedScheduler),
)

// embedMetrics count what the scheduled job did.
type embedMetrics struct {
	runs     *prometheus.CounterVec
	embedded prometheus.Counter
}

func newEmbedMetrics(reg *prometheus.Registry) *embedMetrics {
	m := &embedMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cspm_kb_embed_runs_total",
			Help: "Runs of the knowledge base's embed job, by result (ok, error)."}, []string{"result"}),
		embedded: prometheus.NewCounter(prometheus.CounterOpts{Name: "cspm_kb_embedded_total",
			Help: "Chunk texts the embed job recorded a vector of."}),
	}
	reg.MustRegister(m.runs, m.embedded)
	return m
}

// embedScheduler runs the embed job every interval.
type embedScheduler struct {
	h        *kbcmd.Handlers
	texts    kbcmd.MissingTexts
	emb      kbcmd.Embedder
	model    string
	interval time.Duration
	log      *slog.Logger
	metrics  *embedMetrics
}

// Run embeds at once, then every interval, until ctx ends.
func (s *embedScheduler) Run(ctx context.Context) {
	everyInterval(ctx, s.interval, func(ctx context.Context) int { return int(s.Once(ctx)) })
}

// Once runs the job and returns how many vectors it recorded.
func (s *embedScheduler) Once(ctx context.Context) int64 {
	st, err := s.h.EmbedMissing(ctx, kbcmd.EmbedJob{Model: s.model, Texts: s.texts, Embedder: s.emb,
		Meta: commands.Meta{Actor: embedActor, Route: embedRoute}})
	if err != nil {
		if ctx.Err() == nil {
			s.metrics.runs.WithLabelValues("error").Inc()
			s.log.Warn("embed job failed; next run in an interval", "model", s.model, "embedded", st.Embedded, "err", err)
		}
		return st.Embedded
	}
	s.metrics.runs.WithLabelValues("ok").Inc()
	s.metrics.embedded.Add(float64(st.Embedded))
	if st.Embedded > 0 {
		s.log.Info("embedded chunk texts", "model", s.model, "embedded", st.Embedded, "skipped", st.Skipped, "calls", st.Calls)
	}
	return st.Embedded
}

// startEmbedScheduler runs the job in the background when a service is
// configured and the interval is above 0.
func startEmbedScheduler(p singletonParams, cfg config.Config, kb *kbService, log *slog.Logger, reg *prometheus.Registry) error {
	if cfg.EmbeddingsURL == "" || cfg.EmbeddingsInterval <= 0 {
		return nil
	}
	emb, err := newEmbedder(cfg)
	if err != nil {
		return err
	}
	s := &embedScheduler{h: kb.Handlers, texts: readModelTexts{kb.Service}, emb: emb, model: cfg.EmbeddingsModel,
		interval: cfg.EmbeddingsInterval, log: log.With("component", "knowledgebase"), metrics: newEmbedMetrics(reg)}
	runSingleton(p, "embeddings", s.Run)
	return nil
}
