package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/config"
)

// The embedding service's settings: flags and environment, every problem
// named, the API key never logged.
func TestEmbeddingsSettings(t *testing.T) {
	t.Parallel()
	c, err := load(t, config.GroupEmbeddings, []string{"--embeddings-url", "http://127.0.0.1:11434", "--embeddings-api", "Ollama"},
		map[string]string{"CSPM_EMBEDDINGS_MODEL": "nomic-embed-text", "CSPM_EMBEDDINGS_API_KEY": "sk-hunter2", "CSPM_EMBEDDINGS_INTERVAL": "0"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:11434", c.EmbeddingsURL)
	assert.Equal(t, "ollama", c.EmbeddingsAPI)
	assert.Equal(t, "nomic-embed-text", c.EmbeddingsModel)
	assert.Equal(t, time.Duration(0), c.EmbeddingsInterval)
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	assert.NotContains(t, b.String(), "hunter2")
	assert.Contains(t, b.String(), "nomic-embed-text")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--embeddings-url", "http://e:1"}, "--embeddings-model / CSPM_EMBEDDINGS_MODEL: required with --embeddings-url"},
		{[]string{"--embeddings-url", "ftp://e", "--embeddings-model", "m"}, "embeddings-url"},
		{[]string{"--embeddings-api", "cohere"}, "embeddings-api"},
		{[]string{"--embeddings-interval", "-1m"}, "embeddings-interval"},
	} {
		_, err := load(t, config.GroupEmbeddings, tc.args, nil)
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
	// No URL: semantic search off, nothing required.
	_, err = load(t, config.GroupEmbeddings, nil, nil)
	require.NoError(t, err)
}
