package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProjectorBehindBusRetention (issue 17, decisions 103-104): the
// event stream keeps only --bus-max-bytes. A projector process is killed
// (SIGKILL) while commands go on and the bus drops the events it has not
// processed; started again, it catches up from the event store by
// itself, rejoins the bus, and the read models equal the acknowledged
// facts exactly once.
func TestProjectorBehindBusRetention(t *testing.T) {
	t.Parallel()
	// By size: the work done while the projector is down overflows 64 KiB.
	// By age: 2 s pass while it is down (and everything runs with a 2 s
	// retention and duplicate window).
	for _, c := range []struct {
		name, setting string
		check         func(t *testing.T, cfg jetstream.StreamConfig)
	}{
		{"bytes", "CSPM_BUS_MAX_BYTES=64K", func(t *testing.T, cfg jetstream.StreamConfig) {
			assert.Equal(t, int64(64<<10), cfg.MaxBytes, "--bus-max-bytes applied to the stream")
		}},
		{"age", "CSPM_BUS_MAX_AGE=2s", func(t *testing.T, cfg jetstream.StreamConfig) {
			assert.Equal(t, 2*time.Second, cfg.MaxAge, "--bus-max-age applied to the stream")
			assert.Equal(t, 2*time.Second, cfg.Duplicates)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			projectorBehindBusRetention(t, c.setting, c.check)
		})
	}
}

func projectorBehindBusRetention(t *testing.T, setting string, check func(t *testing.T, cfg jetstream.StreamConfig)) {
	bin := buildCSPM(t)
	natsSrv := startNATS(t, natsBinary.get(t), t.TempDir(), freePort(t))

	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_NATS_URL="+natsSrv.url(), "CSPM_RATE_LIMIT=0",
		setting, "CSPM_LEASE_TTL=2s")
	common := []string{"--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--read-wait-timeout", "1s", "--shutdown-timeout", "10s"}
	api := launchRole(t, bin, env, append([]string{"--roles", "api,relay", "--node-id", "api-1"}, common...)...).wait(t)
	projector := launchRole(t, bin, env, append([]string{"--roles", "projector", "--node-id", "proj-1"}, common...)...).wait(t)

	t.Cleanup(func() { // runs before the processes are stopped
		if t.Failed() {
			r := runCLI(t, bin, env, "projections", "status", "--server", api.base)
			t.Logf("projections status:\n%s%s", r.stdout, r.stderr)
		}
	})
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	f := newFacts()
	live := &liveServer{}
	live.replace(api)
	lifecycles := func(from, to int) { t.Helper(); scanLifecycles(t, ctx, live, f, "ret", from, to) }

	lifecycles(0, 10)
	converge(t, api.base, f)
	_, _, _, processed := f.snapshot()

	// The projector dies; the work goes on and overflows the bus.
	assert.NotEqual(t, 0, projector.stop(t, syscall.SIGKILL))
	lifecycles(10, 150)
	_, _, _, last := f.snapshot()
	first := streamFirst(t, ctx, natsSrv.url(), last, processed, check)
	require.Greater(t, first, processed+1, "the bus must have dropped events the projector had not processed")
	t.Logf("the bus holds %d..%d; the projector had processed through %d", first, last, processed)

	// Started again, it reads the dropped range from the store, then the bus.
	projector = launchRole(t, bin, env, append([]string{"--roles", "projector", "--node-id", "proj-1"}, common...)...).wait(t)
	waitLog(t, projector, "projection: catching up from the store")
	waitLog(t, projector, "projection: caught up from the store; rejoining the bus")
	lifecycles(150, 160)
	converge(t, api.base, f)
	assert.Contains(t, get(t, probeURL(t, projector)+"/metrics"), "cspm_projection_store_catchups_total")

	for _, s := range []*server{projector, api} {
		assert.Equal(t, 0, s.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", s.logs)
	}
	r := runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	_, _, _, last = f.snapshot()
	assert.Contains(t, r.stdout, fmt.Sprintf("OK: %d events in ", last), "no event beyond the acknowledged ones")
}

// streamFirst waits until the relay has published through position last
// and the stream has dropped the message after position processed (by
// size at once, by age once it is old enough), and returns the event
// stream's first sequence.
func streamFirst(t *testing.T, ctx context.Context, url string, last, processed int64, check func(t *testing.T, cfg jetstream.StreamConfig)) int64 {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := js.Stream(ctx, "CSPM_EVENTS")
		require.NoError(t, err)
		st := s.CachedInfo().State
		first := int64(st.FirstSeq)
		if st.Msgs == 0 {
			first = int64(st.LastSeq) + 1
		}
		if int64(st.LastSeq) >= last && first > processed+1 {
			check(t, s.CachedInfo().Config)
			return first
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the stream holds %d..%d: not published through %d, or not dropped after %d", first, st.LastSeq, last, processed)
		case <-tick.C:
		}
	}
}
