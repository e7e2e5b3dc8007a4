// Package embeddings is the HTTP client of an embedding service
// (docs/knowledge-base.md, "Embedding service"): an OpenAI-compatible
// endpoint (POST <url>/v1/embeddings) or an Ollama one (POST <url>/api/embed,
// or the older POST <url>/api/embeddings, one text per call). Texts are
// sent in batches; each call has a timeout and is retried on network
// errors, 429 and 5xx with exponential backoff.
package embeddings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API is the dialect the service speaks.
type API string

// The dialects.
const (
	OpenAI       API = "openai"        // POST /v1/embeddings {model, input: [..]} → {data: [{index, embedding}]}
	Ollama       API = "ollama"        // POST /api/embed {model, input: [..]} → {embeddings: [[..]]}
	OllamaLegacy API = "ollama-legacy" // POST /api/embeddings {model, prompt} → {embedding: [..]}
)

// Config configures a Client.
type Config struct {
	URL      string        // base URL, e.g. http://127.0.0.1:11434
	API      API           // default openai
	APIKey   string        // sent as a bearer token when set (OpenAI)
	Batch    int           // texts per request (default 32)
	Timeout  time.Duration // per request (default 30s)
	Attempts int           // tries per request (default 3)
	Backoff  time.Duration // first retry's wait, doubled each time (default 500ms)
	HTTP     *http.Client  // default: a client without its own timeout
}

// Client embeds texts. Safe for concurrent use.
type Client struct{ cfg Config }

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("embeddings: no URL")
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.API == "" {
		cfg.API = OpenAI
	}
	switch cfg.API {
	case OpenAI, Ollama, OllamaLegacy:
	default:
		return nil, fmt.Errorf("embeddings: API %q: want openai, ollama or ollama-legacy", cfg.API)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.API == OllamaLegacy {
		cfg.Batch = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	return &Client{cfg: cfg}, nil
}

// StatusError is a refusal of the service.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("embedding service answered %d: %s", e.Status, e.Body)
}

func (e *StatusError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Embed returns one vector per text, in order, with model.
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += c.cfg.Batch {
		batch := texts[i:min(i+c.cfg.Batch, len(texts))]
		vs, err := c.withRetries(ctx, model, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func (c *Client) withRetries(ctx context.Context, model string, texts []string) ([][]float32, error) {
	wait := c.cfg.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		vs, retryAfter, err := c.call(ctx, model, texts)
		if err == nil {
			return vs, nil
		}
		last = err
		var se *StatusError
		if errors.As(err, &se) && !se.retryable() || ctx.Err() != nil || attempt >= c.cfg.Attempts {
			return nil, fmt.Errorf("embeddings: %d attempt(s): %w", attempt, last)
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("embeddings: %w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
		wait *= 2
	}
}

func (c *Client) call(ctx context.Context, model string, texts []string) ([][]float32, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var path string
	var body any
	switch c.cfg.API {
	case OpenAI:
		path, body = "/v1/embeddings", map[string]any{"model": model, "input": texts}
	case Ollama:
		path, body = "/api/embed", map[string]any{"model": model, "input": texts}
	case OllamaLegacy:
		path, body = "/api/embeddings", map[string]any{"model": model, "prompt": texts[0]}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL+path, bytes.NewReader(raw))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		var ra time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 60 {
			ra = time.Duration(s) * time.Second
		}
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, ra, &StatusError{Status: resp.StatusCode, Body: msg}
	}
	vs, err := decode(c.cfg.API, data, len(texts))
	return vs, 0, err
}

func decode(api API, data []byte, n int) ([][]float32, error) {
	var vs [][]float32
	switch api {
	case OpenAI:
		var r struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("embeddings: answer: %w", err)
		}
		vs = make([][]float32, n)
		for _, d := range r.Data {
			if d.Index < 0 || d.Index >= n || vs[d.Index] != nil {
				return nil, fmt.Errorf("embeddings: answer: index %d out of place", d.Index)
			}
			vs[d.Index] = d.Embedding
		}
	case Ollama:
		var r struct {
			Embeddings [][]float32 `json:"embeddings"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("embeddings: answer: %w", err)
		}
		vs = r.Embeddings
	case OllamaLegacy:
		var r struct {
			Embedding []float32 `json:"embedding"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("embeddings: answer: %w", err)
		}
		vs = [][]float32{r.Embedding}
	}
	if len(vs) != n {
		return nil, fmt.Errorf("embeddings: answer: %d vectors for %d texts", len(vs), n)
	}
	dim := -1
	for i, v := range vs {
		if len(v) == 0 {
			return nil, fmt.Errorf("embeddings: answer: vector %d is empty", i)
		}
		if dim >= 0 && len(v) != dim {
			return nil, fmt.Errorf("embeddings: answer: vectors of %d and %d dimensions", dim, len(v))
		}
		dim = len(v)
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("embeddings: answer: vector %d is not finite", i)
			}
		}
	}
	return vs, nil
}
