package bus_test

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
)

var quiet = slog.New(slog.DiscardHandler)

func start(t *testing.T, dir string, port int) *bus.Embedded {
	t.Helper()
	e, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: dir, Port: port, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	return e
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, js, err := bus.Connect(t.Context(), url, bus.ConnectOptions{WaitConnected: 5 * time.Second, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return js
}

func TestSubject(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "cspm.events.orchestration.ScanCompleted", bus.Subject("orchestration", "ScanCompleted"))
	assert.Equal(t, "cspm.events.cloud_security.Finding_Opened_x_y", bus.Subject("cloud_security", "Finding.Opened*x>y"))
	assert.Equal(t, "cspm.events._.X", bus.Subject("", "X"))
	cfg := bus.StreamConfig{SubjectPrefix: "t.ev"}
	assert.Equal(t, "t.ev.platform.A", cfg.Subject("platform", "A"))
	assert.Equal(t, "t.ev.platform.>", cfg.ModuleSubjects("platform"))

	sc := bus.StreamConfig{}.JetStream()
	assert.Equal(t, "CSPM_EVENTS", sc.Name)
	assert.Equal(t, []string{"cspm.events.>"}, sc.Subjects)
	assert.Equal(t, jetstream.FileStorage, sc.Storage)
	assert.Equal(t, jetstream.LimitsPolicy, sc.Retention)
	assert.Equal(t, 2*time.Minute, sc.Duplicates)
}

func TestEmbeddedStreamAndConsumer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nats")
	e := start(t, dir, -1)
	assert.NotZero(t, e.Port())
	assert.Equal(t, dir, e.StoreDir())
	js := connect(t, e.ClientURL())

	cfg := bus.StreamConfig{Name: "T_EVENTS"}
	s, err := bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	// Idempotent, and an update is applied in place.
	_, err = bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	cfg.MaxAge = time.Hour
	s, err = bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, s.CachedInfo().Config.MaxAge)

	_, err = js.Publish(ctx, bus.Subject("orchestration", "ScanRequested"), []byte(`{}`))
	require.NoError(t, err)

	filters := []string{cfg.ModuleSubjects("orchestration")}
	c, err := bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "orchestration_scan_runs", filters, bus.ConsumerOptions{MaxAckPending: 100})
	require.NoError(t, err)
	ci := c.CachedInfo().Config
	assert.Equal(t, "orchestration_scan_runs", ci.Durable)
	assert.Equal(t, jetstream.AckAllPolicy, ci.AckPolicy)
	assert.Equal(t, 100, ci.MaxAckPending)
	assert.Equal(t, -1, ci.MaxDeliver)

	// Again with other tunables: updated in place, same position.
	c, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "orchestration_scan_runs", filters, bus.ConsumerOptions{MaxAckPending: 200, StartAfter: 5})
	require.NoError(t, err)
	assert.Equal(t, 200, c.CachedInfo().Config.MaxAckPending)
	assert.Equal(t, jetstream.DeliverAllPolicy, c.CachedInfo().Config.DeliverPolicy)

	// A changed filter would silently skip history: refused unless allowed.
	other := []string{cfg.ModuleSubjects("cloud_security")}
	_, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "orchestration_scan_runs", other, bus.ConsumerOptions{})
	require.ErrorIs(t, err, bus.ErrFilterChanged)
	_, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "orchestration_scan_runs", other, bus.ConsumerOptions{AllowFilterChange: true})
	require.NoError(t, err)

	// A new consumer starts after the projection's checkpoint.
	c, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "late", filters, bus.ConsumerOptions{StartAfter: 41})
	require.NoError(t, err)
	assert.Equal(t, uint64(42), c.CachedInfo().Config.OptStartSeq)

	_, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "bad.name", filters, bus.ConsumerOptions{})
	require.Error(t, err)
	_, err = bus.EnsureDurableConsumer(ctx, js, "T_EVENTS", "nofilter", nil, bus.ConsumerOptions{})
	require.Error(t, err)

	// Restart on the same directory: the stream and its message survive.
	port := e.Port()
	e.Shutdown()
	e2 := start(t, dir, port)
	js2 := connect(t, e2.ClientURL())
	s, err = js2.Stream(ctx, "T_EVENTS")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.CachedInfo().State.LastSeq)

	require.NoError(t, bus.DeleteStream(ctx, js2, "T_EVENTS"))
	require.NoError(t, bus.DeleteStream(ctx, js2, "T_EVENTS"), "deleting a missing stream is not an error")
}

func TestConnectWhileServerDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	e := start(t, dir, -1)
	url, port := e.ClientURL(), e.Port()
	e.Shutdown()

	// Waiting for a server that is down fails within the bound...
	_, _, err := bus.Connect(ctx, url, bus.ConnectOptions{WaitConnected: 300 * time.Millisecond, Logger: quiet})
	require.Error(t, err)

	// ...without waiting, the connection comes up when the server does.
	nc, js, err := bus.Connect(ctx, url, bus.ConnectOptions{ReconnectWait: 50 * time.Millisecond, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	assert.False(t, nc.IsConnected())
	start(t, dir, port)
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond)
	_, err = bus.EnsureStream(ctx, js, bus.StreamConfig{})
	require.NoError(t, err)
}

func TestStartEmbeddedPortInUse(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), -1)
	_, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: t.TempDir(), Port: e.Port(), Logger: quiet, ReadyTimeout: 5 * time.Second})
	require.Error(t, err)
}

// Bounded retention (decision 103): an existing stream takes new limits,
// the oldest messages leave it first and FirstSeq follows; the last
// sequence (what the relay publishes after) stays. A max age below the
// duplicate window shortens the window (JetStream refuses it longer).
func TestStreamRetentionBounds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := start(t, filepath.Join(t.TempDir(), "nats"), -1)
	js := connect(t, e.ClientURL())

	sc := bus.StreamConfig{MaxAge: 2 * time.Second}.JetStream()
	assert.Equal(t, 2*time.Second, sc.Duplicates)
	assert.Equal(t, 2*time.Second, sc.MaxAge)
	assert.False(t, bus.StreamConfig{}.Bounded())
	assert.True(t, bus.StreamConfig{MaxBytes: 1}.Bounded())

	cfg := bus.StreamConfig{Name: "T_RET"}
	s, err := bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), bus.FirstSeq(s.CachedInfo().State), "empty: first is last+1")
	payload := make([]byte, 1000)
	for range 100 {
		_, err := js.Publish(ctx, bus.Subject("platform", "A"), payload)
		require.NoError(t, err)
	}
	s, err = js.Stream(ctx, "T_RET")
	require.NoError(t, err)
	assert.Equal(t, int64(1), bus.FirstSeq(s.CachedInfo().State))

	cfg.MaxBytes = 20 << 10
	s, err = bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(20<<10), s.CachedInfo().Config.MaxBytes)
	s, err = js.Stream(ctx, "T_RET")
	require.NoError(t, err)
	st := s.CachedInfo().State
	assert.Greater(t, bus.FirstSeq(st), int64(50), "the update dropped the oldest messages")
	assert.Equal(t, uint64(100), st.LastSeq)
	assert.LessOrEqual(t, st.Bytes, uint64(20<<10))
}
