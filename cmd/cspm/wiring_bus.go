package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/config"
)

// Bus is the process's JetStream connection, to the embedded server or to
// CSPM_NATS_URL.
type Bus struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	URL       string
	Embedded  bool
}

var busModule = fx.Module("bus",
	fx.Provide(newBus),
	readinessCheck(busReadiness),
)

// newBus starts the embedded nats-server (under <data-dir>/nats) unless an
// external URL is configured, then connects. The connection never blocks the
// start: with NATS down, commands are still accepted (the store is the
// outbox) and the relay catches up once NATS is back.
func newBus(lc fx.Lifecycle, cfg config.Config, log *slog.Logger) (*Bus, error) {
	b := &Bus{URL: cfg.NATSURL} // bus and relay tag their own log lines with a component
	var embedded *bus.Embedded
	if cfg.EmbeddedNATS() {
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		e, err := bus.StartEmbedded(ctx, bus.Options{StoreDir: filepath.Join(cfg.DataDir, "nats"), Port: -1, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		embedded, b.URL, b.Embedded = e, e.ClientURL(), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	nc, js, err := bus.Connect(ctx, b.URL, bus.ConnectOptions{Logger: log})
	if err != nil {
		if embedded != nil {
			embedded.Shutdown()
		}
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	b.Conn, b.JetStream = nc, js
	lc.Append(fx.StopHook(func() {
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		if embedded != nil {
			embedded.Shutdown()
		}
	}))
	return b, nil
}

var relayModule = fx.Module("relay",
	fx.Provide(newRelay, newRelayLeadership), // wiring_lease.go: leadership
	readinessCheck(relayReadiness),
	fx.Invoke(registerRelayHooks),
)

func newRelay(store eventstore.Store, b *Bus, reg *prometheus.Registry, cfg config.Config, log *slog.Logger) (*relay.Relay, error) {
	m, err := relay.NewPrometheusMetrics(reg)
	if err != nil {
		return nil, err
	}
	return relay.New(store, b.JetStream, relay.Config{Logger: log, Metrics: m,
		Stream: eventStream(cfg)}), nil
}

// eventStream is the event stream as configured: replicas and retention
// (--bus-max-age, --bus-max-bytes; docs/decisions.md 103). The relay and
// the projector runtime both create or update the stream with it, so an
// existing stream takes new limits at the next start.
func eventStream(cfg config.Config) bus.StreamConfig {
	return bus.StreamConfig{Replicas: cfg.StreamReplicas, MaxAge: cfg.BusMaxAge, MaxBytes: cfg.BusMaxBytes}
}

// relayMonitorInterval is how often the relay's lag and stall metrics are
// refreshed.
const relayMonitorInterval = 5 * time.Second

// registerRelayHooks runs the relay, and its monitor, in the background
// from start to stop; with leases only while this process leads
// (wiring_lease.go).
func registerRelayHooks(lc fx.Lifecycle, r *relay.Relay, rl *RelayLeadership, l *Leases, cfg config.Config, log *slog.Logger) {
	var (
		cancel context.CancelFunc
		wg     sync.WaitGroup
	)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ctx, c := context.WithCancel(context.Background())
			cancel = c
			wg.Go(func() { runRelay(ctx, r, rl, l, cfg, log) })
			return nil
		},
		OnStop: func(context.Context) error {
			cancel()
			wg.Wait()
			return nil
		},
	})
}
