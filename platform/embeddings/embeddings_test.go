package embeddings_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/embeddings"
	"github.com/cspm-es/cspm-es/platform/embeddings/embeddingstest"
)

func TestEmbedEachAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		api       embeddings.API
		wantCalls int64
	}{{embeddings.OpenAI, 2}, {embeddings.Ollama, 2}, {embeddings.OllamaLegacy, 5}} {
		t.Run(string(tc.api), func(t *testing.T) {
			t.Parallel()
			srv := embeddingstest.New()
			defer srv.Close()
			c, err := embeddings.New(embeddings.Config{URL: srv.URL + "/", API: tc.api, Batch: 3})
			require.NoError(t, err)
			texts := []string{"alpha", "beta gamma", "delta", "epsilon", "zeta"}
			vs, err := c.Embed(context.Background(), "m1", texts)
			require.NoError(t, err)
			require.Len(t, vs, len(texts))
			for i, text := range texts {
				assert.Equal(t, embeddingstest.Vector("m1", text), vs[i], "vector %d in order", i)
			}
			assert.Equal(t, tc.wantCalls, srv.Calls.Load(), "batches of 3 (legacy: one text a call)")
		})
	}
}

func TestEmbedRetriesUnavailable(t *testing.T) {
	t.Parallel()
	srv := embeddingstest.New()
	defer srv.Close()
	srv.FailNext.Store(2)
	c, err := embeddings.New(embeddings.Config{URL: srv.URL, Backoff: time.Millisecond, Attempts: 3})
	require.NoError(t, err)
	vs, err := c.Embed(context.Background(), "m1", []string{"a text"})
	require.NoError(t, err)
	assert.Len(t, vs, 1)
	assert.Equal(t, int64(1), srv.Calls.Load())

	srv.FailNext.Store(5)
	_, err = c.Embed(context.Background(), "m1", []string{"a text"})
	var se *embeddings.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.Status)
	assert.Contains(t, err.Error(), "3 attempt(s)")
}

func TestEmbedDoesNotRetryABadRequest(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no such model", http.StatusBadRequest)
	}))
	defer srv.Close()
	c, err := embeddings.New(embeddings.Config{URL: srv.URL, Backoff: time.Millisecond})
	require.NoError(t, err)
	_, err = c.Embed(context.Background(), "nope", []string{"x"})
	require.ErrorContains(t, err, "no such model")
	assert.Equal(t, int64(1), calls.Load())
}

func TestEmbedTimesOutAHangingService(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := embeddings.New(embeddings.Config{URL: srv.URL, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond})
	require.NoError(t, err)
	_, err = c.Embed(context.Background(), "m", []string{"x"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "2 attempt(s)")
}

func TestEmbedRejectsMalformedAnswers(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"too few":   `{"data":[{"index":0,"embedding":[1,2]}]}`,
		"bad index": `{"data":[{"index":5,"embedding":[1,2]},{"index":0,"embedding":[1,2]}]}`,
		"ragged":    `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1]}]}`,
		"empty":     `{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[]}]}`,
		"not json":  `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
			defer srv.Close()
			c, err := embeddings.New(embeddings.Config{URL: srv.URL, Attempts: 1})
			require.NoError(t, err)
			_, err = c.Embed(context.Background(), "m", []string{"a", "b"})
			require.Error(t, err)
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	_, err := embeddings.New(embeddings.Config{})
	require.Error(t, err)
	_, err = embeddings.New(embeddings.Config{URL: "http://x", API: "grpc"})
	require.ErrorContains(t, err, "grpc")
}
