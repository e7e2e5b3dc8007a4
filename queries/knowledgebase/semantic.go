package knowledgebase

import (
	"container/list"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// teamVectors is a team's chunks with a vector of the model, loaded from
// the read model once per generation and kept in memory (a brute-force
// cosine scan; decision 81).
type teamVectors struct {
	gen  string
	ids  []string
	vecs [][]float32
}

// semantic embeds q and scans the team's vectors.
func (s *Service) semantic(ctx context.Context, team, gen, q string, k int) ([]scoredChunk, error) {
	tv, err := s.teamVectors(ctx, team, gen)
	if err != nil {
		return nil, err
	}
	if len(tv.ids) == 0 {
		return nil, nil
	}
	vs, err := s.embedder.Embed(ctx, s.model, []string{kb.NormalizeChunk(q)})
	if err != nil {
		return nil, fmt.Errorf("search: embed the query: %w: %w", ErrEmbeddingService, err)
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf("search: embed the query: %w: %d vectors", ErrEmbeddingService, len(vs))
	}
	return scan(tv, vs[0], k), nil
}

// scan scores every vector of the team against q: the vectors are
// normalised when loaded, so the cosine is a dot product with the
// normalised query (a vector of other dimensions scores 0).
func scan(tv *teamVectors, q []float32, k int) []scoredChunk {
	q = normalized(q)
	top := &topK{k: k}
	for i, v := range tv.vecs {
		sc := 0.0
		if len(v) == len(q) {
			sc = float64(dot(q, v))
		}
		top.offer(scoredChunk{tv.ids[i], sc})
	}
	return top.sorted()
}

// vectorField is the cache entry's vector (projections/knowledgebase:
// float32 little-endian, base64).
const vectorField = "vector_f32le"

func decodeVector(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		return nil, fmt.Errorf("vector: not base64 float32s")
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// normalized is v scaled to length 1 (a zero vector stays zero).
func normalized(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	inv := 1 / math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// dot is the dot product of a and b (the same length).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var d float32
	for i, x := range a {
		d += x * b[i]
	}
	return d
}

func (s *Service) teamVectors(ctx context.Context, team, gen string) (*teamVectors, error) {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if tv, ok := s.vectors[team]; ok && tv.gen == gen {
		return tv, nil
	}
	tv := &teamVectors{gen: gen}
	byHash := map[string][]string{} // text hash → chunk ids
	cursor := ""
	for {
		page, err := s.kb.Find(ctx, chunks, readmodel.FindOptions{Filter: readmodel.Eq("team_id", team), Limit: readmodel.MaxLimit, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("search: chunks: %w", err)
		}
		for _, d := range page.Docs {
			h := queries.Str(d, "text_hash")
			byHash[h] = append(byHash[h], queries.Str(d, "_id"))
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	hashes := make([]any, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, kb.ContentHash(s.model, h))
	}
	const batch = 500
	for i := 0; i < len(hashes); i += batch {
		ids := hashes[i:min(i+batch, len(hashes))]
		page, err := s.kb.Find(ctx, cache, readmodel.FindOptions{Filter: readmodel.In("_id", ids...), Limit: readmodel.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("search: cache: %w", err)
		}
		for _, d := range page.Docs {
			v, err := decodeVector(queries.Str(d, vectorField))
			if err != nil {
				return nil, fmt.Errorf("search: cache entry %s: %w", queries.Str(d, "_id"), err)
			}
			v = normalized(v)
			for _, id := range byHash[queries.Str(d, "text_hash")] {
				tv.ids = append(tv.ids, id)
				tv.vecs = append(tv.vecs, v)
			}
		}
	}
	// One contiguous slab: the scan reads the vectors in order, which
	// the processor's prefetch rewards (vectors decoded among other
	// garbage are scattered over the heap).
	total := 0
	for _, v := range tv.vecs {
		total += len(v)
	}
	slab := make([]float32, 0, total)
	for i, v := range tv.vecs {
		off := len(slab)
		slab = append(slab, v...)
		tv.vecs[i] = slab[off:len(slab):len(slab)]
	}
	s.vectors[team] = tv
	return tv, nil
}

// DefaultCacheSize is how many search results the cache keeps.
const DefaultCacheSize = 1024

// lru is the search cache: results by key, least recently used evicted.
// The key holds the team's generation, so a stale entry is never hit
// again and ages out.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	res SearchResult
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) (SearchResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return SearchResult{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).res, true
}

func (c *lru) put(key string, res SearchResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*lruEntry).res = res
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key, res})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

// EmbeddingStatus is how far the embedding of a team's chunks is for the
// configured model.
type EmbeddingStatus struct {
	Model    string `json:"model,omitempty"` // "" when no service is configured
	Semantic bool   `json:"semantic"`        // semantic search available
	Chunks   int64  `json:"chunks"`          // the team's chunks
	Texts    int64  `json:"texts"`           // their distinct texts
	Embedded int64  `json:"embedded"`        // texts with a vector of Model
	Missing  int64  `json:"missing"`         // texts without one (the embed job's work; 0 without a model)
}

// EmbeddingStatus answers the team's status: its chunks, their distinct
// texts and how many of those the cache has a vector of the configured
// model for (vectors of other models do not count).
func (s *Service) EmbeddingStatus(ctx context.Context, team string) (EmbeddingStatus, error) {
	if team == "" {
		return EmbeddingStatus{}, queries.ErrNoTeam
	}
	// Kept per team until its documents or the cache change (the same
	// generation as the semantic search's).
	gen, err := s.generation(ctx, team, ModeSemantic)
	if err != nil {
		return EmbeddingStatus{}, err
	}
	s.vmu.Lock()
	cached, ok := s.statuses[team]
	s.vmu.Unlock()
	if ok && cached.gen == gen {
		return cached.st, nil
	}
	st := EmbeddingStatus{Model: s.model, Semantic: s.embedder != nil}
	hashes := map[string]bool{}
	cursor := ""
	for {
		page, err := s.kb.Find(ctx, chunks, readmodel.FindOptions{Filter: readmodel.Eq("team_id", team), Limit: readmodel.MaxLimit, Cursor: cursor})
		if err != nil {
			return EmbeddingStatus{}, fmt.Errorf("embedding status: chunks: %w", err)
		}
		for _, d := range page.Docs {
			st.Chunks++
			hashes[queries.Str(d, "text_hash")] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	st.Texts = int64(len(hashes))
	if s.model != "" {
		ids := make([]any, 0, len(hashes))
		for h := range hashes {
			ids = append(ids, kb.ContentHash(s.model, h))
		}
		const batch = 500
		for i := 0; i < len(ids); i += batch {
			n, err := s.kb.Count(ctx, cache, readmodel.In("_id", ids[i:min(i+batch, len(ids))]...))
			if err != nil {
				return EmbeddingStatus{}, fmt.Errorf("embedding status: cache: %w", err)
			}
			st.Embedded += n
		}
		st.Missing = st.Texts - st.Embedded
	}
	s.vmu.Lock()
	s.statuses[team] = statusEntry{gen: gen, st: st}
	s.vmu.Unlock()
	return st, nil
}

type statusEntry struct {
	gen string
	st  EmbeddingStatus
}
