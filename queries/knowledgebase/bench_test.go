package knowledgebase_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	kbproj "github.com/cspm-es/cspm-es/projections/knowledgebase"
	qkb "github.com/cspm-es/cspm-es/queries/knowledgebase"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkKnowledgeBaseSearch: GET /api/v1/kb/search, lexical (BM25
// over the postings) and semantic (cosine over the team's vectors held in
// memory), p50/p99 at N chunks of one team, with a baseline in the same
// run: GET /api/v1/kb/documents/{id} (one document read by _id) and a
// linear scan of the team's vectors without the store (the floor of the
// semantic search). Every iteration searches a query of its own (a
// unique term that matches nothing is added), so the search cache never
// answers; "search_cached" measures a cache hit. Sizes:
// CSPM_BENCH_KB_CHUNKS ("5000" by default; "5000,100000" for the issue's
// size). Dimensions of the vectors: CSPM_BENCH_KB_DIMS (default 256).
//
// The world: documents of 100 Markdown sections (one chunk each, ~40
// words drawn from a Zipf-distributed vocabulary of 20,000 words), every
// chunk's text with a vector of the model; another team's 1,000 chunks
// beside. It is seeded by the projection's own Apply, in batches of 20
// documents (queriestest.Env.SeedChunksWith); with CSPM_BENCH_KB_DIR set,
// worlds are kept there and reused by later runs. The query's embedding
// is computed in process (the service's latency is not the search's).
//
//	CSPM_BENCH_KB_CHUNKS=5000,100000 CSPM_BENCH_KB_DIR=/tmp/kbbench \
//	  go test -run '^$' -bench KnowledgeBaseSearch -timeout 60m ./queries/knowledgebase/
func BenchmarkKnowledgeBaseSearch(b *testing.B) {
	spec := os.Getenv("CSPM_BENCH_KB_CHUNKS")
	if spec == "" {
		spec = "5000"
	}
	dims := 256
	if d := os.Getenv("CSPM_BENCH_KB_DIMS"); d != "" {
		var err error
		dims, err = strconv.Atoi(d)
		require.NoError(b, err)
	}
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		require.NoError(b, err)
		b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) { benchKBSearch(b, n, dims) })
	}
}

const (
	benchTeam     = "bench-team"
	benchModel    = "bench-model"
	benchPerDoc   = 100
	benchVocab    = 20_000
	benchWords    = 40
	benchDocBatch = 20
)

// benchVector is a deterministic unit vector of dims for text.
func benchVector(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	v := make([]float32, dims)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

type benchEmbedder struct{ dims int }

func (e benchEmbedder) Embed(_ context.Context, _ string, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = benchVector(t, e.dims)
	}
	return out, nil
}

func benchWord(rank uint64) string { return "w" + strconv.FormatUint(rank, 36) }

// benchChunks are the events of the world, in batches of documents.
func benchChunks(n, dims int) iter.Seq[[]projections.Event] {
	return func(yield func([]projections.Event) bool) {
		r := rand.New(rand.NewPCG(1, 2))
		zipf := rand.NewZipf(r, 1.1, 1, benchVocab-1)
		var pos int64
		var batch []projections.Event
		emit := func(team string, d any) {
			pos++
			batch = append(batch, projections.Event{RecordedEvent: eventstore.RecordedEvent{EventID: fmt.Sprintf("ev-%d", pos),
				Type: d.(kb.Event).EventType(), Position: pos, Metadata: eventstore.Metadata{TeamID: team, Actor: "bench"}}, Data: d})
		}
		doc := func(team string, i, chunks int) {
			var text strings.Builder
			for s := range chunks {
				fmt.Fprintf(&text, "# Section %d\n\n", s)
				for w := range benchWords {
					if w > 0 {
						text.WriteByte(' ')
					}
					text.WriteString(benchWord(zipf.Uint64()))
				}
				fmt.Fprintf(&text, " doc%d s%d\n\n", i, s) // every text distinct
			}
			evs, err := kb.AddDocument(fmt.Sprintf("%s-doc-%d", team, i), kb.DocumentSpec{Title: fmt.Sprintf("Runbook %d", i),
				Format: kb.FormatMarkdown, Text: text.String()}, kb.DefaultChunking, queriestest.T0)
			if err != nil {
				panic(err)
			}
			added := evs[0].(kb.DocumentAdded)
			emit(team, added)
			for _, c := range added.Chunks {
				body := kb.NormalizeChunk(kb.ChunkText(added.Text, c))
				rec, err := kb.RecordEmbedding(benchModel, c.TextHash, benchVector(body, dims), queriestest.T0)
				if err != nil {
					panic(err)
				}
				emit("system", rec[0])
			}
		}
		docs := max(1, n/benchPerDoc)
		for i := range docs + 10 {
			if i < docs {
				doc(benchTeam, i, benchPerDoc)
			} else {
				doc("other-team", i, benchPerDoc)
			}
			if (i+1)%benchDocBatch == 0 {
				if !yield(batch) {
					return
				}
				batch = nil
			}
		}
		if len(batch) > 0 {
			yield(batch)
		}
	}
}

func benchKBSearch(b *testing.B, n, dims int) {
	dir := b.TempDir()
	if keep := os.Getenv("CSPM_BENCH_KB_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("chunks-%d-dims-%d", n, dims))
	}
	done := filepath.Join(dir, "seeded")
	if _, err := os.Stat(done); err != nil {
		require.NoError(b, os.RemoveAll(dir))
		require.NoError(b, os.MkdirAll(dir, 0o755))
		start := time.Now()
		env := queriestest.OpenEnv(b, dir)
		env.SeedChunksWith(b, []projections.Projection{kbproj.New()}, benchChunks(n, dims))
		env.Close(b)
		require.NoError(b, os.WriteFile(done, []byte("ok\n"), 0o644))
		b.Logf("seeded %d chunks (%d dims) in %s", n, dims, time.Since(start).Round(time.Second))
	} else {
		b.Logf("reusing the world in %s", dir)
	}
	env := queriestest.OpenEnv(b, dir)
	b.Cleanup(func() { env.Close(b) })
	ctx := context.Background()
	s := qkb.New(env.Stores[dbregistry.KNOWLEDGE_BASE]).WithEmbedder(benchEmbedder{dims}, benchModel)
	st, err := s.EmbeddingStatus(ctx, benchTeam)
	require.NoError(b, err)
	require.EqualValues(b, max(1, n/benchPerDoc)*benchPerDoc, st.Chunks)
	require.Equal(b, st.Texts, st.Embedded, "every chunk has a vector")

	// Queries: two or three words of ranks 20 to 2,000 (neither stop-word
	// common nor absent) and a unique term, so the cache never answers.
	query := func(i int) string {
		r := rand.New(rand.NewPCG(uint64(i+1000), 4))
		words := []string{}
		for range 2 + i%2 {
			words = append(words, benchWord(uint64(20+r.IntN(1980))))
		}
		return strings.Join(words, " ") + " nonce" + strconv.Itoa(i)
	}
	// The first semantic search loads the team's vectors (once per
	// generation of its documents or of the cache): measured apart.
	start := time.Now()
	res, err := s.Search(ctx, benchTeam, qkb.SearchRequest{Q: query(-1), Mode: qkb.ModeSemantic})
	require.NoError(b, err)
	require.Len(b, res.Hits, qkb.DefaultK)
	b.Logf("first semantic search (loads %d vectors): %s", st.Chunks, time.Since(start).Round(time.Millisecond))
	lex, err := s.Search(ctx, benchTeam, qkb.SearchRequest{Q: query(-2)})
	require.NoError(b, err)
	require.NotEmpty(b, lex.Hits)

	// The linear scan's floor: the same cosine over the same vectors,
	// held in a slice, without the store or the service.
	vecs := make([][]float32, 0, st.Chunks)
	for i := range int(st.Chunks) {
		vecs = append(vecs, benchVector(strconv.Itoa(i), dims))
	}
	ops := []struct {
		name string
		op   func(i int) error
	}{
		{"baseline/get_one_document", func(int) error {
			_, err := s.GetDocument(ctx, benchTeam, benchTeam+"-doc-0")
			return err
		}},
		{"baseline/linear_scan_in_memory", func(i int) error {
			q := benchVector(query(i), dims) // unit vectors: the cosine is the dot product
			best := -2.0
			for _, v := range vecs {
				var d float32
				for j := range q {
					d += q[j] * v[j]
				}
				best = math.Max(best, float64(d))
			}
			if best < -1 {
				return fmt.Errorf("no vector")
			}
			return nil
		}},
		{"search_lexical_bm25", func(i int) error {
			_, err := s.Search(ctx, benchTeam, qkb.SearchRequest{Q: query(i), Mode: qkb.ModeLexical})
			return err
		}},
		{"search_semantic_cosine", func(i int) error {
			_, err := s.Search(ctx, benchTeam, qkb.SearchRequest{Q: query(i), Mode: qkb.ModeSemantic})
			return err
		}},
		{"search_cached", func(int) error {
			_, err := s.Search(ctx, benchTeam, qkb.SearchRequest{Q: query(-2)})
			return err
		}},
	}
	for _, q := range ops {
		b.Run(q.name, func(b *testing.B) { measure(b, q.op) })
	}
}

// measure runs op b.N times and reports ops/s, p50 and p99.
func measure(b *testing.B, op func(i int) error) {
	b.Helper()
	var durs []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	i := 0
	for b.Loop() {
		t := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t))
		i++
	}
	elapsed := time.Since(start)
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(float64(len(durs))/elapsed.Seconds(), "ops/s")
}
