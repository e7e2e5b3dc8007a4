package probes_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/probes"
	"github.com/cspm-es/cspm-es/platform/probes/headers"
	"github.com/cspm-es/cspm-es/platform/probes/tlscheck"
)

// A worker's own named type of the tools' shape takes them as they are.
type workerTool func(ctx context.Context, target string, out io.Writer) error

// Builtins are "headers" and "tls"; each writes a report the parser
// reads, and writes nothing when the target is unreachable.
func TestBuiltins(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	tools := probes.Builtins(probes.Options{Headers: headers.Options{Timeout: 5 * time.Second}, TLS: tlscheck.Options{Timeout: 5 * time.Second}})
	require.Len(t, tools, 2)
	registry := map[string]workerTool{}
	for name, tool := range tools {
		registry[name] = tool
	}
	for name, target := range map[string]string{"headers": srv.URL, "tls": srv.Listener.Addr().String()} {
		var out bytes.Buffer
		require.NoError(t, registry[name](t.Context(), target, &out), name)
		n := 0
		sum, err := probe.Parse(t.Context(), &out, func(o cloudsecurity.Observation) error {
			assert.Equal(t, probes.ToolVersion, o.ToolVersion)
			n++
			return nil
		})
		require.NoError(t, err, name)
		assert.Equal(t, name, sum.Probe)
		assert.Positive(t, n, name)
	}

	addr := srv.Listener.Addr().String()
	srv.Close()
	for name, target := range map[string]string{"headers": "https://" + addr, "tls": addr} {
		var out bytes.Buffer
		assert.Error(t, tools[name](t.Context(), target, &out), name)
		assert.Zero(t, out.Len(), "%s: nothing written", name)
	}
}
