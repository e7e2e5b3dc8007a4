package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultStoreDir is where the embedded server keeps JetStream data when
// Options.StoreDir is empty (docs/architecture.md §3: data/nats/).
const DefaultStoreDir = "data/nats"

// Options configures the embedded nats-server.
type Options struct {
	// StoreDir is the JetStream storage directory (created if missing).
	// Default DefaultStoreDir. Restarting on the same directory recovers
	// every stream and consumer.
	StoreDir string
	// Host is the listen address. Default 127.0.0.1: the embedded server
	// serves this process (and local tools), not the network.
	Host string
	// Port is the client port: 0 means NATS's default 4222, -1 a random
	// free port (read it back with Embedded.Port or ClientURL).
	Port int
	// ServerName names the server in logs and JetStream metadata.
	// Default "cspm-embedded".
	ServerName string
	// MaxStore and MaxMemory cap JetStream file and memory storage in
	// bytes; 0 lets the server pick (a share of the disk / RAM).
	MaxStore, MaxMemory int64
	// SyncAlways fsyncs every stored message. Off by default: a killed
	// process loses nothing (writes are in the OS page cache) and a power
	// loss can only lose the tail of the stream, which the relay
	// republishes from the event store (see docs/bus-and-relay.md).
	SyncAlways bool
	// ReadyTimeout bounds start-up (JetStream recovers its streams before
	// accepting clients). Default 30s; ctx can end it sooner.
	ReadyTimeout time.Duration
	// Logger receives the server's notices, warnings and errors (debug and
	// trace lines at Debug). Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StoreDir == "" {
		o.StoreDir = DefaultStoreDir
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.ServerName == "" {
		o.ServerName = "cspm-embedded"
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Embedded is an in-process nats-server with JetStream enabled.
type Embedded struct {
	srv      *server.Server
	url      string
	storeDir string
	once     sync.Once
}

// StartEmbedded starts an in-process nats-server with JetStream storing
// under opts.StoreDir and returns once it accepts clients. The caller owns
// the server and must call Shutdown.
func StartEmbedded(ctx context.Context, opts Options) (*Embedded, error) {
	opts = opts.withDefaults()
	dir, err := filepath.Abs(opts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("bus: store dir %q: %w", opts.StoreDir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: create store dir: %w", err)
	}

	srv, err := server.NewServer(&server.Options{
		ServerName:         opts.ServerName,
		Host:               opts.Host,
		Port:               opts.Port,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxStore:  opts.MaxStore,
		JetStreamMaxMemory: opts.MaxMemory,
		SyncAlways:         opts.SyncAlways,
		NoSigs:             true, // the process owns signal handling
	})
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded nats-server: %w", err)
	}
	logger := &serverLogger{log: opts.Logger.With("component", "nats-server")}
	srv.SetLoggerV2(logger, true, false, false)

	// Start recovers JetStream state synchronously, which can take a while
	// on a large store; run it aside so ctx is honoured meanwhile.
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()

	deadline := time.Now().Add(opts.ReadyTimeout)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		fatal := logger.lastFatal()
		switch {
		case fatal != "":
			err = fmt.Errorf("bus: embedded nats-server failed to start: %s", fatal)
		case ctx.Err() != nil:
			err = fmt.Errorf("bus: start embedded nats-server: %w", ctx.Err())
		case time.Now().After(deadline):
			err = fmt.Errorf("bus: embedded nats-server not ready after %s", opts.ReadyTimeout)
		default:
			continue
		}
		<-started
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	<-started
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("bus: embedded nats-server started without JetStream (see its log)")
	}
	e := &Embedded{srv: srv, url: srv.ClientURL(), storeDir: dir}
	opts.Logger.Info("embedded nats-server started", "url", e.url, "store_dir", dir)
	return e, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.url }

// Port is the client port actually bound (useful after Port: -1).
func (e *Embedded) Port() int {
	if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// StoreDir is the absolute JetStream storage directory.
func (e *Embedded) StoreDir() string { return e.storeDir }

// Server exposes the underlying server (monitoring, tests).
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server, closes client connections and waits until it
// is down. Calling it again does nothing.
func (e *Embedded) Shutdown() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

// serverLogger bridges nats-server's logger to slog. Fatalf must not exit
// the process (the default logger does): it is logged at Error and
// remembered so StartEmbedded can report it.
type serverLogger struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal string
}

func (l *serverLogger) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// Noticef logs the server's notices (its start-up banner, configuration
// dump, "Server is ready"...) at debug level: cspm logs the one line that
// matters ("embedded nats-server started") itself.
func (l *serverLogger) Noticef(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l *serverLogger) Warnf(format string, v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.mu.Lock()
	l.fatal = msg
	l.mu.Unlock()
	l.log.Error(msg, "fatal", true)
}

func (l *serverLogger) Errorf(format string, v ...any) {
	l.log.Error(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l *serverLogger) Debugf(format string, v ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

func (l *serverLogger) Tracef(format string, v ...any) {}
