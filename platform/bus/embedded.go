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

// DefaultMaxPayload is the embedded server's max_payload, set explicitly:
// the largest message (payload and headers) it accepts. Every event the
// store accepts fits (eventstore.MaxEnvelopeBytes, checked by a test), so
// the relay never has to publish one by reference to the embedded server.
const DefaultMaxPayload = 1 << 20

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
	// MaxPayload is the largest message the server accepts, in bytes.
	// Default DefaultMaxPayload.
	MaxPayload int32
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
	if o.MaxPayload <= 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Embedded is an in-process nats-server with JetStream enabled. It
// supervises itself: after a storage fault (a full disk, an I/O error)
// JetStream refuses every write until the server restarts, so the server
// restarts itself on the same port and storage once there is room again,
// and clients reconnect by themselves (see Restarts).
type Embedded struct {
	opts     Options
	sopts    server.Options // what every (re)start is configured with
	url      string
	storeDir string
	logger   *serverLogger

	mu       sync.Mutex
	srv      *server.Server
	restarts int

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// RestartBackoff bounds the pause between two supervisor restarts.
var RestartBackoff = struct{ Min, Max time.Duration }{Min: time.Second, Max: 30 * time.Second}

// minFreeToRestart is the free space the store directory's file system
// must have before the supervisor restarts the server after a fault.
const minFreeToRestart = 4 << 20

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
	e := &Embedded{
		opts:     opts,
		storeDir: dir,
		logger:   &serverLogger{log: opts.Logger.With("component", "nats-server"), fault: make(chan string, 1)},
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		sopts: server.Options{
			ServerName:         opts.ServerName,
			Host:               opts.Host,
			Port:               opts.Port,
			JetStream:          true,
			StoreDir:           dir,
			JetStreamMaxStore:  opts.MaxStore,
			JetStreamMaxMemory: opts.MaxMemory,
			SyncAlways:         opts.SyncAlways,
			MaxPayload:         opts.MaxPayload,
			NoSigs:             true, // the process owns signal handling
		},
	}
	srv, err := e.startServer(ctx)
	if err != nil {
		return nil, err
	}
	e.srv, e.url = srv, srv.ClientURL()
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		e.sopts.Port = a.Port // a restart binds the same port: clients reconnect to it
	}
	go e.supervise()
	opts.Logger.Info("embedded nats-server started", "url", e.url, "store_dir", dir)
	return e, nil
}

// startServer starts one server with e.sopts and waits until it accepts
// clients with JetStream enabled.
func (e *Embedded) startServer(ctx context.Context) (*server.Server, error) {
	sopts := e.sopts
	srv, err := server.NewServer(&sopts)
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(e.logger, true, false, false)
	e.logger.clearFatal()

	// Start recovers JetStream state synchronously, which can take a while
	// on a large store; run it aside so ctx is honoured meanwhile.
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()

	deadline := time.Now().Add(e.opts.ReadyTimeout)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		fatal := e.logger.lastFatal()
		switch {
		case fatal != "":
			err = fmt.Errorf("bus: embedded nats-server failed to start: %s", fatal)
		case ctx.Err() != nil:
			err = fmt.Errorf("bus: start embedded nats-server: %w", ctx.Err())
		case time.Now().After(deadline):
			err = fmt.Errorf("bus: embedded nats-server not ready after %s", e.opts.ReadyTimeout)
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
	return srv, nil
}

// supervise restarts the server after a storage fault (reported by its
// log) or when JetStream turned itself off, once the store directory has
// room again, with a growing pause between restarts.
func (e *Embedded) supervise() {
	defer close(e.stopped)
	check := time.NewTicker(2 * time.Second)
	defer check.Stop()
	backoff := RestartBackoff.Min
	var lastRestart time.Time
	for {
		var why string
		select {
		case <-e.stop:
			return
		case why = <-e.logger.fault:
		case <-check.C:
			if e.Server().JetStreamEnabled() {
				if time.Since(lastRestart) > 2*RestartBackoff.Max {
					backoff = RestartBackoff.Min // healthy for a while
				}
				continue
			}
			why = "JetStream is disabled"
		}
		e.opts.Logger.Warn("embedded nats-server: storage fault; it restarts on the same port and storage once there is room again",
			"reason", why, "store_dir", e.storeDir)
		for {
			if wait := time.Until(lastRestart.Add(backoff)); wait > 0 && !e.sleep(wait) {
				return
			}
			if free, ok := freeBytes(e.storeDir); ok && free < minFreeToRestart {
				if !e.sleep(time.Second) {
					return
				}
				continue
			}
			lastRestart = time.Now()
			backoff = min(2*backoff, RestartBackoff.Max)
			if err := e.restart(); err != nil {
				e.opts.Logger.Error("embedded nats-server restart failed; retrying", "error", err)
				continue
			}
			break
		}
		// Faults reported before the restart are over.
		select {
		case <-e.logger.fault:
		default:
		}
	}
}

// sleep waits d; false when the server is shutting down.
func (e *Embedded) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.stop:
		return false
	}
}

// restart replaces the server with a new one on the same port and storage.
func (e *Embedded) restart() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.stop:
		return nil
	default:
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ReadyTimeout)
	defer cancel()
	srv, err := e.startServer(ctx)
	if err != nil {
		return err
	}
	e.srv = srv
	e.restarts++
	e.opts.Logger.Info("embedded nats-server restarted", "url", e.url, "restarts", e.restarts)
	return nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.url }

// Port is the client port actually bound (useful after Port: -1).
func (e *Embedded) Port() int { return e.sopts.Port }

// StoreDir is the absolute JetStream storage directory.
func (e *Embedded) StoreDir() string { return e.storeDir }

// Server exposes the underlying server (monitoring, tests). It changes
// when the supervisor restarts the server.
func (e *Embedded) Server() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

// Restarts counts the supervisor's restarts after storage faults.
func (e *Embedded) Restarts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restarts
}

// Shutdown stops the supervisor and the server, closes client connections
// and waits until it is down. Calling it again does nothing.
func (e *Embedded) Shutdown() {
	e.once.Do(func() {
		close(e.stop)
		<-e.stopped
		e.mu.Lock()
		defer e.mu.Unlock()
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

// serverLogger bridges nats-server's logger to slog. Fatalf must not exit
// the process (the default logger does): it is logged at Error and
// remembered so StartEmbedded can report it. Errors that mean a storage
// fault are sent to the supervisor (fault).
type serverLogger struct {
	log   *slog.Logger
	fault chan string

	mu    sync.Mutex
	fatal string
}

func (l *serverLogger) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

func (l *serverLogger) clearFatal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fatal = ""
}

// storageFaults are what nats-server logs when its storage fails: a write
// error makes a stream refuse every write until the server restarts.
var storageFaults = []string{"critical write error", "no space left on device", "out of resources", "input/output error"}

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
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.log.Error(msg)
	for _, f := range storageFaults {
		if strings.Contains(msg, f) {
			select {
			case l.fault <- msg:
			default: // one pending fault is enough
			}
			return
		}
	}
}

func (l *serverLogger) Debugf(format string, v ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

func (l *serverLogger) Tracef(format string, v ...any) {}
