// Package embeddingstest is a local embedding service for tests: an
// httptest server speaking the OpenAI and Ollama APIs, whose vectors are
// a deterministic function of the text (hashed character trigrams, so
// texts sharing words are near), counting the texts it embeds.
package embeddingstest

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// Dims is the vectors' dimensions.
const Dims = 64

// Server is the local service.
type Server struct {
	*httptest.Server
	Calls atomic.Int64 // requests answered 200
	Texts atomic.Int64 // texts embedded
	mu    sync.Mutex
	seen  map[string]int // text → times embedded
	// FailNext, when above 0, makes that many next requests answer 503.
	FailNext atomic.Int64
}

// New starts a server; Close it.
func New() *Server {
	s := &Server{seen: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/embeddings", s.openai)
	mux.HandleFunc("POST /api/embed", s.ollama)
	mux.HandleFunc("POST /api/embeddings", s.ollamaLegacy)
	s.Server = httptest.NewServer(mux)
	return s
}

// Seen is how many times text was embedded.
func (s *Server) Seen(text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[text]
}

func (s *Server) fail(w http.ResponseWriter) bool {
	if s.FailNext.Load() > 0 {
		s.FailNext.Add(-1)
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return true
	}
	return false
}

func (s *Server) count(texts []string) {
	s.Calls.Add(1)
	s.Texts.Add(int64(len(texts)))
	s.mu.Lock()
	for _, t := range texts {
		s.seen[t]++
	}
	s.mu.Unlock()
}

func (s *Server) openai(w http.ResponseWriter, r *http.Request) {
	if s.fail(w) {
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Model == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.count(req.Input)
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	out := struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []item `json:"data"`
	}{Object: "list", Model: req.Model}
	// Answer in reverse order: the client must place them by index.
	for i := len(req.Input) - 1; i >= 0; i-- {
		out.Data = append(out.Data, item{"embedding", i, Vector(req.Model, req.Input[i])})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) ollama(w http.ResponseWriter, r *http.Request) {
	if s.fail(w) {
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Model == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.count(req.Input)
	out := struct {
		Embeddings [][]float32 `json:"embeddings"`
	}{}
	for _, t := range req.Input {
		out.Embeddings = append(out.Embeddings, Vector(req.Model, t))
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) ollamaLegacy(w http.ResponseWriter, r *http.Request) {
	if s.fail(w) {
		return
	}
	var req struct {
		Model  string `json:"model"`
		Prompt string `json:"prompt"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Model == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.count([]string{req.Prompt})
	_ = json.NewEncoder(w).Encode(map[string]any{"embedding": Vector(req.Model, req.Prompt)})
}

// Vector is the service's vector of text under model: the normalised
// counts of the lower-cased words' character trigrams hashed into Dims
// buckets (the model's name seeds the hash: two models differ).
func Vector(model, text string) []float32 {
	v := make([]float64, Dims)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		w = "^" + w + "$"
		for i := 0; i+3 <= len(w); i++ {
			h := fnv.New32a()
			h.Write([]byte(model))
			h.Write([]byte(w[i : i+3]))
			v[h.Sum32()%Dims]++
		}
	}
	var n float64
	for _, x := range v {
		n += x * x
	}
	out := make([]float32, Dims)
	if n == 0 {
		out[0] = 1
		return out
	}
	n = math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out
}
