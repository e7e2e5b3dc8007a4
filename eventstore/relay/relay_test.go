package relay_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	wmjetstream "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
)

func TestRelayPublishesEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())

	// Appended before any relay runs: the process "died" between append
	// and publish; the store is the outbox.
	appendEvents(t, store, 300)
	r := relay.New(store, js, fastConfig())
	stop := runRelay(t, r)
	waitCheckpoint(t, r, 300, 10*time.Second)

	// Appends while running wake the relay.
	head := appendEvents(t, store, 200)
	require.Equal(t, int64(500), head)
	waitCheckpoint(t, r, 500, 10*time.Second)
	waitPublished(t, r, 500, 5*time.Second)

	require.NoError(t, stop())
	requireStreamMatchesStore(t, js, store)
	st := r.Status()
	assert.Equal(t, testStream, st.Stream)
	assert.False(t, st.Running)
	assert.Equal(t, int64(500), st.Published)
	assert.Equal(t, int64(500), st.Head)
	assert.Zero(t, st.Lag)
	assert.False(t, st.Failing)
}

// truncated shows only the first `head` positions of a store: a relay on it
// behaves like one killed after its acks for 1..head came back.
type truncated struct {
	relay.Reader
	head int64
}

func (r truncated) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := r.Reader.ReadAll(ctx, after, limit)
	for i, e := range evs {
		if e.Position > r.head {
			return evs[:i], err
		}
	}
	return evs, err
}

func (r truncated) HeadPosition(ctx context.Context) (int64, error) {
	h, err := r.Reader.HeadPosition(ctx)
	return min(h, r.head), err
}

func TestRelayResumesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	appendEvents(t, store, 100)

	// A relay that stopped in the middle of a window (Window 64, 37 acked).
	_, js1 := connect(t, srv.ClientURL())
	n, err := relay.New(truncated{store, 37}, js1, fastConfig()).CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 37, n)

	// A new process resumes from the stream's last sequence.
	nc2, js2 := connect(t, srv.ClientURL())
	r := relay.New(store, js2, fastConfig())
	got, err := r.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(37), got)
	n, err = r.CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 63, n)
	n, err = r.CatchUp(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to publish")
	nc2.Close()

	// And again after a restart, running.
	appendEvents(t, store, 50)
	_, js3 := connect(t, srv.ClientURL())
	r3 := relay.New(store, js3, fastConfig())
	stop := runRelay(t, r3)
	waitCheckpoint(t, r3, 150, 10*time.Second)
	require.NoError(t, stop())
	requireStreamMatchesStore(t, js3, store)
}

func TestTwoRelaysPublishEachEventOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)

	t.Run("catch-up race", func(t *testing.T) {
		appendEvents(t, store, 500)
		cfg := fastConfig()
		cfg.Window = 16
		var wg sync.WaitGroup
		counts := make([]int, 2)
		errs := make([]error, 2)
		for i := range 2 {
			_, js := connect(t, srv.ClientURL())
			r := relay.New(store, js, cfg)
			wg.Go(func() { counts[i], errs[i] = r.CatchUp(ctx) })
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		assert.Equal(t, 500, counts[0]+counts[1], "each event stored once: %v", counts)
		_, js := connect(t, srv.ClientURL())
		requireStreamMatchesStore(t, js, store)
	})

	t.Run("running while appending", func(t *testing.T) {
		cfg := fastConfig()
		cfg.Window = 16
		var relays []*relay.Relay
		for range 2 {
			_, js := connect(t, srv.ClientURL())
			r := relay.New(store, js, cfg)
			runRelay(t, r)
			relays = append(relays, r)
		}
		var head int64
		for range 20 {
			head = appendEvents(t, store, 20)
		}
		require.Equal(t, int64(900), head)
		for _, r := range relays {
			waitCheckpoint(t, r, head, 10*time.Second)
		}
		_, js := connect(t, srv.ClientURL())
		requireStreamMatchesStore(t, js, store)
	})
}

func TestRelayConvergesAfterNATSOutage(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	dir := t.TempDir()
	srv := startServer(t, dir, -1)
	port := srv.Port()
	_, js := connect(t, srv.ClientURL())

	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	appendEvents(t, store, 50)
	waitCheckpoint(t, r, 50, 10*time.Second)

	srv.Shutdown()
	// Appends only touch the store: they keep working with NATS down.
	head := appendEvents(t, store, 50)
	require.Equal(t, int64(100), head)
	waitStatus(t, r, 20*time.Second, "the relay should try, fail and say so",
		func(st relay.Status) bool { return st.Failing && st.Lag == 50 })
	assert.Equal(t, int64(50), r.Status().Published)
	assert.NotEmpty(t, r.Status().LastError)

	// Same store dir and port: the client reconnects, the relay publishes
	// the backlog.
	startServer(t, dir, port)
	waitCheckpoint(t, r, 100, 15*time.Second)
	waitPublished(t, r, 100, 5*time.Second)
	assert.False(t, r.Status().Failing)
	requireStreamMatchesStore(t, js, store)
}

func TestRelayRecreatesADeletedStream(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())

	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	appendEvents(t, store, 30)
	waitCheckpoint(t, r, 30, 10*time.Second)

	require.NoError(t, bus.DeleteStream(ctx, js, testStream))
	appendEvents(t, store, 10)
	waitCheckpoint(t, r, 40, 15*time.Second)
	requireStreamMatchesStore(t, js, store)
}

func TestRelayRefusesAStreamFromAnotherStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())

	old := openStore(t)
	appendEvents(t, old, 20)
	_, err := relay.New(old, js, fastConfig()).CatchUp(ctx)
	require.NoError(t, err)

	// The store is reset (a new, shorter one) under the old stream.
	fresh := openStore(t)
	appendEvents(t, fresh, 5)
	r := relay.New(fresh, js, fastConfig())
	_, err = r.CatchUp(ctx)
	require.ErrorIs(t, err, relay.ErrMismatch)
	var me *relay.MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int64(20), me.StreamLastSeq)
	assert.Equal(t, int64(5), me.StoreHead)
	assert.Contains(t, err.Error(), "last sequence 20")
	assert.Contains(t, err.Error(), "head is 5")

	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.ErrorIs(t, r.Run(runCtx), relay.ErrMismatch, "Run refuses too")
	assert.True(t, r.Status().Failing)

	require.NoError(t, r.ResetStream(ctx))
	n, err := r.CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	requireStreamMatchesStore(t, js, fresh)

	// A reset store that has already grown past the old stream: caught by
	// comparing the event ids at the stream's last sequence.
	grown := openStore(t)
	appendEvents(t, grown, 30)
	_, err = relay.New(grown, js, fastConfig()).CatchUp(ctx)
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int64(5), me.Position)
	assert.NotEqual(t, me.StreamEventID, me.StoreEventID)
	assert.Contains(t, err.Error(), "at sequence 5")
}

// Before Run begins (its goroutine not yet scheduled, a lease being taken)
// a relay with events pending is stalled only once the bound passes; once
// Run has ended (a mismatch) it is at once.
func TestHealthOfARelayNotBegunAndOfOneThatEnded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	old := openStore(t)
	appendEvents(t, old, 20)
	_, err := relay.New(old, js, fastConfig()).CatchUp(ctx)
	require.NoError(t, err)

	grown := openStore(t) // another store, already past the stream
	appendEvents(t, grown, 30)
	r := relay.New(grown, js, fastConfig())
	h := r.Health(ctx, time.Hour)
	assert.Empty(t, h.Problem, "not begun yet is not stalled within the bound")
	assert.Equal(t, int64(30), h.Lag)

	require.ErrorIs(t, r.Run(ctx), relay.ErrMismatch)
	h = r.Health(ctx, time.Hour)
	assert.Contains(t, h.Problem, "relay is not running")
	assert.False(t, h.StalledSince.IsZero())
}

// Another publisher on the stream's subjects breaks stream sequence ==
// position: the relay notices at its next publish and refuses.
func TestRelayRefusesAForeignPublisher(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	appendEvents(t, store, 10)
	r := relay.New(store, js, fastConfig())
	_, err := r.CatchUp(ctx)
	require.NoError(t, err)

	_, err = js.Publish(ctx, streamConfig().Subject("platform", "Intruder"), []byte(`{}`))
	require.NoError(t, err)
	appendEvents(t, store, 5)
	_, err = r.CatchUp(ctx)
	var me *relay.MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int64(11), me.Position)
	assert.Empty(t, me.StreamEventID)
	assert.Contains(t, err.Error(), "without an event id")
}

// The server, not the relay, guarantees no gaps: a publish that expects
// another last sequence than the stream's is refused.
func TestServerRefusesAGap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	_, err := bus.EnsureStream(ctx, js, streamConfig())
	require.NoError(t, err)
	subj := streamConfig().Subject("platform", "X")

	_, err = js.Publish(ctx, subj, []byte(`{}`), jetstream.WithExpectLastSequence(0), jetstream.WithMsgID("a"))
	require.NoError(t, err)
	// Position 3 before 2: refused.
	_, err = js.Publish(ctx, subj, []byte(`{}`), jetstream.WithExpectLastSequence(2), jetstream.WithMsgID("c"))
	var apiErr *jetstream.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, jetstream.JSErrCodeStreamWrongLastSequence, apiErr.ErrorCode)
	// Position 1 again (a second relay): refused before de-duplication.
	_, err = js.Publish(ctx, subj, []byte(`{}`), jetstream.WithExpectLastSequence(0), jetstream.WithMsgID("a"))
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, jetstream.JSErrCodeStreamWrongLastSequence, apiErr.ErrorCode)
}

// Watermill's JetStream unmarshaler reads the relay's messages as its own.
func TestWatermillReadsTheStream(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	appendEvents(t, store, 10)
	_, err := relay.New(store, js, fastConfig()).CatchUp(ctx)
	require.NoError(t, err)

	evs, err := store.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	for i, m := range streamMessages(t, js) {
		wm, err := wmjetstream.DefaultUnmarshaler{}.Unmarshal(m)
		require.NoError(t, err)
		assert.Equal(t, evs[i].EventID, wm.UUID)
		assert.Equal(t, m.Data(), []byte(wm.Payload))
		assert.Equal(t, strconv.FormatInt(evs[i].Position, 10), wm.Metadata.Get(bus.HeaderPosition))
		assert.Equal(t, evs[i].Type, wm.Metadata.Get(bus.HeaderEventType))
	}
}

func TestRunAndCatchUpAreExclusive(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	waitStatus(t, r, 5*time.Second, "running", func(st relay.Status) bool { return st.Running })
	_, err := r.CatchUp(t.Context())
	require.ErrorIs(t, err, relay.ErrBusy)
	require.ErrorIs(t, r.Run(t.Context()), relay.ErrBusy)
}

// A real nats-server process, killed with SIGKILL and restarted on the same
// store directory and port.
func TestRelayWithExternalServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds and runs a nats-server binary")
	}
	t.Parallel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "nats-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build nats-server: %s", out)

	port := freePort(t)
	storeDir := filepath.Join(tmp, "js")
	srv := startProcess(t, bin, storeDir, port)

	store := openStore(t)
	_, js := connect(t, fmt.Sprintf("nats://127.0.0.1:%d", port))
	r := relay.New(store, js, fastConfig())
	runRelay(t, r)
	appendEvents(t, store, 40)
	waitCheckpoint(t, r, 40, 15*time.Second)

	srv.kill(t)
	appendEvents(t, store, 40)
	waitStatus(t, r, 20*time.Second, "the relay should try, fail and say so",
		func(st relay.Status) bool { return st.Failing && st.Lag == 40 })

	startProcess(t, bin, storeDir, port)
	waitCheckpoint(t, r, 80, 20*time.Second)
	requireStreamMatchesStore(t, js, store)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type process struct {
	cmd  *exec.Cmd
	once sync.Once
}

func (p *process) kill(t *testing.T) {
	p.once.Do(func() {
		assert.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		_ = p.cmd.Wait()
	})
}

func startProcess(t *testing.T, bin, storeDir string, port int) *process {
	t.Helper()
	cmd := exec.Command(bin, "-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if os.Getenv("CSPM_TEST_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill(t) })

	// Ready when JetStream answers, not merely when the port is open.
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	}, 15*time.Second, 20*time.Millisecond, "nats-server process did not become ready")
	return p
}
