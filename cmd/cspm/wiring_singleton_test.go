package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/platform/bus"
)

// With leases, a scheduler runs in one process of the deployment at a
// time; when that process stops, another takes it over (decision 110).
func TestRunSingleton_OneProcessRunsASchedulerAndAnotherTakesOver(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: t.TempDir(), Port: -1, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)

	var mu sync.Mutex
	running := map[string]bool{}
	overlap := false
	runners := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for n, r := range running {
			if r {
				out = append(out, n)
			}
		}
		return out
	}
	start := func(node string) *fxtest.Lifecycle {
		cfg := testConfig(t)
		cfg.NATSURL, cfg.NodeID = e.ClientURL(), node
		lc := fxtest.NewLifecycle(t)
		l := &Leases{Node: node, TTL: 600 * time.Millisecond, cfg: cfg, log: quiet}
		lc.Append(fx.StopHook(l.close))
		runSingleton(singletonParams{Lifecycle: lc, Leases: l, Registry: prometheus.NewRegistry(), Logger: quiet, Config: cfg},
			"webhooks", func(ctx context.Context) {
				mu.Lock()
				for n, r := range running {
					if r && n != node {
						overlap = true
					}
				}
				running[node] = true
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				running[node] = false
				mu.Unlock()
			})
		lc.RequireStart()
		return lc
	}
	a := start("api-1")
	b := start("api-2")
	require.Eventually(t, func() bool { return len(runners()) == 1 }, 20*time.Second, 10*time.Millisecond)
	first := runners()[0]
	stop, other := a, "api-2"
	if first == "api-2" {
		stop, other = b, "api-1"
	}
	stop.RequireStop()
	require.Eventually(t, func() bool { r := runners(); return len(r) == 1 && r[0] == other }, 20*time.Second, 10*time.Millisecond,
		"the other process takes the scheduler over")
	mu.Lock()
	assert.False(t, overlap, "never two processes at once")
	mu.Unlock()
	if other == "api-1" {
		a.RequireStop()
	} else {
		b.RequireStop()
	}
}
