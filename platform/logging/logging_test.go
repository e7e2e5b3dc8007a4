package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/logging"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		level  slog.Level
		format config.LogFormat
		check  func(t *testing.T, out string)
	}{
		{"json", slog.LevelInfo, config.LogJSON, func(t *testing.T, out string) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &m), out)
			assert.Equal(t, "hello", m["msg"])
			assert.Equal(t, "boom", m["error"])
		}},
		{"text", slog.LevelInfo, config.LogText, func(t *testing.T, out string) {
			assert.Contains(t, out, "msg=hello")
			assert.Contains(t, out, "error=boom")
		}},
		{"level filters", slog.LevelError, config.LogText, func(t *testing.T, out string) {
			assert.Empty(t, out)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			logging.New(&b, tt.level, tt.format).Info("hello", logging.Err(errors.New("boom")))
			tt.check(t, b.String())
		})
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.LogLevel = slog.LevelDebug
	var b bytes.Buffer
	logging.FromConfig(&b, c).Debug("visible")
	assert.Contains(t, b.String(), "visible")
	logging.Discard().Error("nothing")
}
