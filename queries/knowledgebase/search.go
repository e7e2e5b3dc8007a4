package knowledgebase

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Search modes.
const (
	ModeLexical  = "lexical"
	ModeSemantic = "semantic"
	// ModeAuto is semantic when an embedding service is configured,
	// lexical otherwise.
	ModeAuto = "auto"
)

// Search limits.
const (
	DefaultK      = 10
	MaxK          = 50
	MaxQueryBytes = 1024
	MaxQueryTerms = 16
)

// SearchRequest is a search of the caller's team's documents.
type SearchRequest struct {
	Q    string
	Mode string // lexical (default), semantic or auto
	K    int    // 0: DefaultK
}

// Link is an id a hit mentions, resolved: CVE and GHSA ids always, check
// and requirement ids when the catalogue (imported reports) knows them.
type Link struct {
	Kind       string   `json:"kind"` // cve, ghsa, check, requirement
	ID         string   `json:"id"`
	Href       string   `json:"href,omitempty"`
	Title      string   `json:"title,omitempty"`      // a check's
	Frameworks []string `json:"frameworks,omitempty"` // a requirement's
}

// Hit is one chunk found.
type Hit struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	Chunk      int64   `json:"chunk"`
	Heading    string  `json:"heading,omitempty"`
	Text       string  `json:"text"`
	Score      float64 `json:"score"`
	Links      []Link  `json:"links"`
}

// SearchResult is the hits, best first.
type SearchResult struct {
	Mode  string `json:"mode"`
	Model string `json:"model,omitempty"` // semantic
	// Cached: answered from the search cache (the API says so in the
	// X-Search-Cache header, not in the body: an answer's data is the
	// same whether cached or not).
	Cached bool  `json:"-"`
	Hits   []Hit `json:"hits"`
}

// ErrEmbeddingService: the embedding service failed to embed a semantic
// search's query (the API answers 503).
var ErrEmbeddingService = errors.New("the embedding service failed")

// ErrSemanticUnavailable: a semantic search without an embedding service.
var ErrSemanticUnavailable = errors.New("semantic search needs an embedding service (embeddings-url); none is configured")

// Search runs req for team. Results are cached under (team, mode, model,
// k, query) and the team's generation (the position of its last document
// change; for semantic searches also the cache's last embedding), so a
// change of the team's documents invalidates them.
func (s *Service) Search(ctx context.Context, team string, req SearchRequest) (SearchResult, error) {
	if team == "" {
		return SearchResult{}, queries.ErrNoTeam
	}
	req.Q = strings.TrimSpace(req.Q)
	req.Mode = strings.ToLower(strings.TrimSpace(req.Mode))
	if req.Mode == "" {
		req.Mode = ModeLexical
	}
	if req.Mode == ModeAuto {
		req.Mode = ModeLexical
		if s.embedder != nil {
			req.Mode = ModeSemantic
		}
	}
	if req.K == 0 {
		req.K = DefaultK
	}
	var v domain.Validator
	v.Check(req.Q != "", "q", "is required")
	v.Check(len(req.Q) <= MaxQueryBytes, "q", "must be at most %d bytes", MaxQueryBytes)
	v.Check(req.Mode == ModeLexical || req.Mode == ModeSemantic, "mode", "must be lexical, semantic or auto")
	v.Check(req.K >= 1 && req.K <= MaxK, "k", "must be between 1 and %d", MaxK)
	if req.Mode == ModeSemantic && s.embedder == nil {
		v.Add("mode", "%v", ErrSemanticUnavailable)
	}
	if err := v.Err(); err != nil {
		return SearchResult{}, err
	}
	gen, err := s.generation(ctx, team, req.Mode)
	if err != nil {
		return SearchResult{}, err
	}
	model := ""
	if req.Mode == ModeSemantic {
		model = s.model
	}
	key := strings.Join([]string{team, req.Mode, model, strconv.Itoa(req.K), gen, req.Q}, "\x00")
	if r, ok := s.cache.get(key); ok {
		r.Cached = true
		return r, nil
	}
	var scored []scoredChunk
	if req.Mode == ModeLexical {
		scored, err = s.bm25(ctx, team, req.Q, req.K)
	} else {
		scored, err = s.semantic(ctx, team, gen, req.Q, req.K)
	}
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Mode: req.Mode, Model: model, Hits: make([]Hit, 0, len(scored))}
	for _, sc := range scored {
		d, err := s.kb.Get(ctx, chunks, sc.id)
		if errors.Is(err, readmodel.ErrNotFound) {
			continue
		}
		if err != nil {
			return SearchResult{}, fmt.Errorf("search: chunk: %w", err)
		}
		if queries.Str(d, "team_id") != team { // cannot happen: the index is per team
			continue
		}
		links, err := s.links(ctx, d)
		if err != nil {
			return SearchResult{}, err
		}
		res.Hits = append(res.Hits, Hit{DocumentID: queries.Str(d, "document_id"), Title: queries.Str(d, "title"), Chunk: queries.Num(d, "index"),
			Heading: queries.Str(d, "heading"), Text: queries.Str(d, "text"), Score: sc.score, Links: links})
	}
	s.cache.put(key, res)
	return res, nil
}

// generation is the team's generation (and the embeddings' for semantic).
func (s *Service) generation(ctx context.Context, team, mode string) (string, error) {
	g := "0"
	d, err := s.kb.Get(ctx, teams, teamKey(team))
	switch {
	case err == nil:
		g = strconv.FormatInt(queries.Num(d, "generation"), 10)
	case !errors.Is(err, readmodel.ErrNotFound):
		return "", fmt.Errorf("search: generation: %w", err)
	}
	if mode == ModeSemantic {
		e, err := s.kb.Get(ctx, state, "embeddings")
		switch {
		case err == nil:
			g += "." + strconv.FormatInt(queries.Num(e, "generation"), 10)
		case !errors.Is(err, readmodel.ErrNotFound):
			return "", fmt.Errorf("search: generation: %w", err)
		}
	}
	return g, nil
}

type scoredChunk struct {
	id    string
	score float64
}

// topK keeps the k best (highest score; ties by id ascending).
type topK struct {
	k     int
	items []scoredChunk
}

func worse(a, b scoredChunk) bool { return a.score < b.score || a.score == b.score && a.id > b.id }

func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return worse(t.items[i], t.items[j]) }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(scoredChunk)) }
func (t *topK) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

func (t *topK) offer(c scoredChunk) {
	if len(t.items) < t.k {
		heap.Push(t, c)
		return
	}
	if worse(t.items[0], c) {
		t.items[0] = c
		heap.Fix(t, 0)
	}
}

func (t *topK) sorted() []scoredChunk {
	out := slices.Clone(t.items)
	slices.SortFunc(out, func(a, b scoredChunk) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	return out
}

// bm25 scores the team's chunks holding any query term.
func (s *Service) bm25(ctx context.Context, team, q string, k int) ([]scoredChunk, error) {
	terms := kb.Tokens(q)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	if len(terms) > MaxQueryTerms {
		terms = terms[:MaxQueryTerms]
	}
	st, err := s.kb.Get(ctx, teams, teamKey(team))
	if errors.Is(err, readmodel.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search: team: %w", err)
	}
	n := queries.Num(st, "chunks")
	if n == 0 {
		return nil, nil
	}
	avg := float64(queries.Num(st, "total_len")) / float64(n)
	scores := map[string]float64{}
	type posting struct {
		chunk   string
		tf, len int64
	}
	for _, t := range terms {
		var list []posting
		cursor := ""
		for {
			page, err := s.kb.Find(ctx, postings, readmodel.FindOptions{Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("term", t)),
				Limit: readmodel.MaxLimit, Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("search: postings: %w", err)
			}
			for _, d := range page.Docs {
				list = append(list, posting{queries.Str(d, "chunk_id"), queries.Num(d, "tf"), queries.Num(d, "len")})
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		for _, p := range list {
			scores[p.chunk] += kb.BM25(int(p.tf), len(list), int(n), float64(p.len), avg)
		}
	}
	top := &topK{k: k}
	for id, sc := range scores {
		top.offer(scoredChunk{id, sc})
	}
	return top.sorted(), nil
}

// links resolves a chunk's mentions.
func (s *Service) links(ctx context.Context, d readmodel.Doc) ([]Link, error) {
	out := []Link{}
	raw, _ := d["mentions"].([]any)
	for _, r := range raw {
		m, _ := r.(string)
		kind, id, ok := strings.Cut(m, ":")
		if !ok {
			continue
		}
		switch kind {
		case kb.MentionCVE, kb.MentionGHSA:
			out = append(out, Link{Kind: kind, ID: id, Href: "/api/v1/vulnerabilities/" + url.PathEscape(id)})
		case kb.MentionCheck:
			c, err := s.kb.Get(ctx, knownChecks, id)
			if errors.Is(err, readmodel.ErrNotFound) || errors.Is(err, readmodel.ErrInvalid) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("search: links: %w", err)
			}
			out = append(out, Link{Kind: kind, ID: id, Title: queries.Str(c, "title")})
		case kb.MentionRequirement:
			c, err := s.kb.Get(ctx, knownReqs, id)
			if errors.Is(err, readmodel.ErrNotFound) || errors.Is(err, readmodel.ErrInvalid) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("search: links: %w", err)
			}
			var fws []string
			for _, f := range c["frameworks"].([]any) {
				fws = append(fws, fmt.Sprint(f))
			}
			l := Link{Kind: kind, ID: id, Frameworks: fws}
			if len(fws) > 0 {
				l.Href = "/api/v1/compliance/" + url.PathEscape(fws[0])
			}
			out = append(out, l)
		}
	}
	return out, nil
}
