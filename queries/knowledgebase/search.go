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
	Kind       string   `json:"kind"` // cve, ghsa, finding, check, requirement
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
	var docs []readmodel.Doc
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
		docs = append(docs, d)
		res.Hits = append(res.Hits, Hit{DocumentID: queries.Str(d, "document_id"), Title: queries.Str(d, "title"), Chunk: queries.Num(d, "index"),
			Heading: queries.Str(d, "heading"), Text: queries.Str(d, "text"), Score: sc.score})
	}
	links, err := s.links(ctx, docs)
	if err != nil {
		return SearchResult{}, err
	}
	for i := range res.Hits {
		res.Hits[i].Links = links[i]
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

// links resolves the mentions of each chunk: CVE and GHSA ids always,
// check and requirement ids the catalogue knows (read in one query per
// kind for all the chunks).
func (s *Service) links(ctx context.Context, docs []readmodel.Doc) ([][]Link, error) {
	type mention struct{ kind, id string }
	per := make([][]mention, len(docs))
	want := map[string]map[string]bool{kb.MentionCheck: {}, kb.MentionRequirement: {}}
	for i, d := range docs {
		raw, _ := d["mentions"].([]any)
		for _, r := range raw {
			m, _ := r.(string)
			kind, id, ok := strings.Cut(m, ":")
			if !ok {
				continue
			}
			per[i] = append(per[i], mention{kind, id})
			if w, ok := want[kind]; ok {
				w[id] = true
			}
		}
	}
	known := map[string]map[string]readmodel.Doc{}
	for kind, coll := range map[string]string{kb.MentionCheck: knownChecks, kb.MentionRequirement: knownReqs} {
		known[kind] = map[string]readmodel.Doc{}
		ids := make([]any, 0, len(want[kind]))
		for id := range want[kind] {
			ids = append(ids, id)
		}
		const batch = 500
		for i := 0; i < len(ids); i += batch {
			page, err := s.kb.Find(ctx, coll, readmodel.FindOptions{Filter: readmodel.In("_id", ids[i:min(i+batch, len(ids))]...), Limit: readmodel.MaxLimit})
			if err != nil {
				return nil, fmt.Errorf("search: links: %w", err)
			}
			for _, d := range page.Docs {
				known[kind][queries.Str(d, "_id")] = d
			}
		}
	}
	out := make([][]Link, len(docs))
	for i, ms := range per {
		out[i] = []Link{}
		for _, m := range ms {
			switch m.kind {
			case kb.MentionCVE, kb.MentionGHSA:
				out[i] = append(out[i], Link{Kind: m.kind, ID: m.id, Href: "/api/v1/vulnerabilities/" + url.PathEscape(m.id)})
			case kb.MentionFinding:
				// The findings module answers for the team only (another
				// team's finding is a 404 there).
				out[i] = append(out[i], Link{Kind: m.kind, ID: m.id, Href: "/api/v1/findings/" + url.PathEscape(m.id) + "/history"})
			case kb.MentionCheck:
				if c, ok := known[m.kind][m.id]; ok {
					out[i] = append(out[i], Link{Kind: m.kind, ID: m.id, Title: queries.Str(c, "title")})
				}
			case kb.MentionRequirement:
				c, ok := known[m.kind][m.id]
				if !ok {
					continue
				}
				var fws []string
				raw, _ := c["frameworks"].([]any)
				for _, f := range raw {
					fws = append(fws, fmt.Sprint(f))
				}
				l := Link{Kind: m.kind, ID: m.id, Frameworks: fws}
				if len(fws) > 0 {
					l.Href = "/api/v1/compliance/" + url.PathEscape(fws[0])
				}
				out[i] = append(out[i], l)
			}
		}
	}
	return out, nil
}
