package projectionstest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
	"github.com/cspm-es/cspm-es/projections"
)

// Logger is silent unless CSPM_TEST_LOG is set (then it writes debug
// logs to stderr).
func Logger() *slog.Logger {
	if os.Getenv("CSPM_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// EnvOptions tunes NewEnv.
type EnvOptions struct {
	// Databases to open read-model stores for. Default PLATFORM.
	Databases []dbregistry.Constant
	// Codec; default Codec().
	Codec *eventstore.Codec
	// NoRelay leaves the relay to the test (Env.RunRelay, Env.CatchUp).
	NoRelay bool
	// EventStorePath opens an existing event store file instead of a new
	// one in the test's directory.
	EventStorePath string
	// MaxPayload is the NATS server's max payload; default the embedded
	// server's (bus.DefaultMaxPayload).
	MaxPayload int32
	// Stream bounds the event stream's retention (MaxAge, MaxBytes); its
	// name is always CSPM_EVENTS_TEST.
	Stream bus.StreamConfig
}

// Env is everything a projection runtime runs on, in the test's temporary
// directory: a SQLite event store, an embedded NATS server with the event
// stream, the relay feeding it, and one SQLite read-model store per
// database. Everything is closed when the test ends.
type Env struct {
	Dir    string
	Events *sqlite.Store
	Server *bus.Embedded
	Conn   *nats.Conn
	JS     jetstream.JetStream
	Stream bus.StreamConfig
	Stores map[dbregistry.Constant]readmodel.Store
	Codec  *eventstore.Codec
	Relay  *relay.Relay
	Log    *slog.Logger

	mu        sync.Mutex
	stopRelay func()
}

// NewEnv starts an environment (and the relay unless opts.NoRelay).
func NewEnv(t testing.TB, opts EnvOptions) *Env {
	t.Helper()
	ctx := context.Background()
	if len(opts.Databases) == 0 {
		opts.Databases = []dbregistry.Constant{dbregistry.PLATFORM}
	}
	if opts.Codec == nil {
		opts.Codec = Codec()
	}
	e := &Env{Dir: t.TempDir(), Stream: bus.StreamConfig{Name: "CSPM_EVENTS_TEST", MaxAge: opts.Stream.MaxAge, MaxBytes: opts.Stream.MaxBytes}, Codec: opts.Codec, Log: Logger()}

	var err error
	e.Server, err = bus.StartEmbedded(ctx, bus.Options{StoreDir: filepath.Join(e.Dir, "nats"), Port: -1, Logger: e.Log, MaxPayload: opts.MaxPayload})
	require.NoError(t, err)
	t.Cleanup(e.Server.Shutdown)
	e.Conn, e.JS, err = bus.Connect(ctx, e.Server.ClientURL(), bus.ConnectOptions{
		WaitConnected: 5 * time.Second, ReconnectWait: 50 * time.Millisecond, Logger: e.Log})
	require.NoError(t, err)
	t.Cleanup(e.Conn.Close)
	_, err = bus.EnsureStream(ctx, e.JS, e.Stream)
	require.NoError(t, err)

	path := opts.EventStorePath
	if path == "" {
		path = filepath.Join(e.Dir, "events.sqlite")
	}
	e.Events, err = sqlite.Open(ctx, path, sqlite.Options{Synchronous: "normal", PollInterval: 20 * time.Millisecond, Logger: e.Log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Events.Close() })

	e.Stores = map[dbregistry.Constant]readmodel.Store{}
	for _, db := range opts.Databases {
		s, err := sqlitestore.Open(ctx, filepath.Join(e.Dir, strings.ToLower(string(db))+".sqlite"), sqlitestore.Options{Synchronous: "normal"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		e.Stores[db] = s
	}

	e.Relay = relay.New(e.Events, e.JS, relay.Config{Stream: e.Stream, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, Logger: e.Log})
	if !opts.NoRelay {
		e.RunRelay(t)
	}
	return e
}

// RunRelay runs the relay in the background until the test ends or StopRelay.
func (e *Env) RunRelay(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Relay.Run(ctx); err != nil {
			e.Log.Error("relay stopped", "error", err)
		}
	}()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	e.mu.Lock()
	e.stopRelay = stop
	e.mu.Unlock()
	t.Cleanup(stop)
}

// StopRelay stops a relay started by RunRelay.
func (e *Env) StopRelay() {
	e.mu.Lock()
	stop := e.stopRelay
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Deps returns runtime dependencies on the environment.
func (e *Env) Deps() projections.RuntimeDeps {
	return projections.RuntimeDeps{
		Events: e.Events, Codec: e.Codec, Stores: e.Stores,
		JetStream: e.JS, Stream: e.Stream, Logger: e.Log,
	}
}

// Append appends events (values of registered types) to a stream of
// StreamType for team, whatever the stream's version, and returns the
// result.
func (e *Env) Append(t testing.TB, streamID, team string, events ...any) eventstore.AppendResult {
	t.Helper()
	req := eventstore.AppendRequest{StreamID: streamID, StreamType: StreamType, Expected: eventstore.Any,
		Metadata: eventstore.Metadata{TeamID: team, Actor: "test"}}
	for _, ev := range events {
		ne, err := e.Codec.Encode(ev)
		require.NoError(t, err)
		req.Events = append(req.Events, ne)
	}
	res, err := e.Events.Append(context.Background(), req)
	require.NoError(t, err)
	return res
}

// Head returns the event store's head position.
func (e *Env) Head(t testing.TB) int64 {
	t.Helper()
	head, err := e.Events.HeadPosition(context.Background())
	require.NoError(t, err)
	return head
}

// Dump reads the named collections whole: collection -> documents in _id
// order.
func Dump(ctx context.Context, s readmodel.Store, collections ...string) (map[string][]readmodel.Doc, error) {
	out := make(map[string][]readmodel.Doc, len(collections))
	for _, c := range collections {
		opts := readmodel.FindOptions{Limit: readmodel.MaxLimit}
		docs := []readmodel.Doc{}
		for {
			page, err := s.Find(ctx, c, opts)
			if err != nil {
				return nil, err
			}
			docs = append(docs, page.Docs...)
			if page.NextCursor == "" {
				break
			}
			opts.Cursor = page.NextCursor
		}
		out[c] = docs
	}
	return out, nil
}

// RestartServer shuts the NATS server down, runs during (if not nil)
// while it is down, and starts it again on the same port and storage: the
// connection, the relay and the runtime reconnect by themselves.
func (e *Env) RestartServer(t testing.TB, during func()) {
	t.Helper()
	port, dir := e.Server.Port(), e.Server.StoreDir()
	e.Server.Shutdown()
	if during != nil {
		during()
	}
	srv, err := bus.StartEmbedded(context.Background(), bus.Options{StoreDir: dir, Port: port, Logger: e.Log})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	e.Server = srv
}
