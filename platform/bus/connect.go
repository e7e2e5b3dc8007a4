package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions tunes Connect. The zero value suits a server that may be
// down for a while: the connection is retried forever in the background.
type ConnectOptions struct {
	// Name identifies the client in the server's monitoring. Default "cspm".
	Name string
	// ReconnectWait is the pause between reconnect attempts (plus up to
	// 250ms of jitter). Default 500ms.
	ReconnectWait time.Duration
	// ConnectTimeout bounds one dial. Default 2s.
	ConnectTimeout time.Duration
	// WaitConnected, when > 0, makes Connect wait up to that long (bounded
	// by ctx) for the first connection and fail otherwise. At 0 Connect
	// returns at once with a connection that keeps trying in the
	// background (publishes fail until it is up).
	WaitConnected time.Duration
	// PublishAsyncTimeout fails an async publish whose ack has not come
	// back in time, so nothing waits forever on a lost ack. Default 10s.
	PublishAsyncTimeout time.Duration
	// PublishAsyncMaxPending caps async publishes in flight per
	// connection. Default 4096.
	PublishAsyncMaxPending int
	// Logger receives connection state changes. Default slog.Default().
	Logger *slog.Logger
}

func (o ConnectOptions) withDefaults() ConnectOptions {
	if o.Name == "" {
		o.Name = "cspm"
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = 500 * time.Millisecond
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.PublishAsyncTimeout <= 0 {
		o.PublishAsyncTimeout = 10 * time.Second
	}
	if o.PublishAsyncMaxPending <= 0 {
		o.PublishAsyncMaxPending = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Connect dials url (one URL or a comma-separated list) and returns the
// connection with a JetStream handle on it. The connection never gives up:
// a failed first dial is retried (RetryOnFailedConnect), reconnects are
// unlimited, and the reconnect buffer is off so a publish made while
// disconnected fails at once instead of being queued in memory and sent
// later (JetStream publishes must see their ack or an error; the relay
// republishes from the store). The caller closes the connection.
func Connect(ctx context.Context, url string, opts ConnectOptions) (*nats.Conn, jetstream.JetStream, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With("component", "nats-client", "name", opts.Name)

	nc, err := nats.Connect(url,
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectJitter(250*time.Millisecond, 250*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.Timeout(opts.ConnectTimeout),
		// Notice a silently dead server within about a minute (the default
		// is two minutes per ping, two pings).
		nats.PingInterval(20*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("connected to NATS", "url", c.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS; reconnecting", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("reconnected to NATS", "url", c.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Debug("NATS reconnect attempt failed", "error", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("NATS async error", "subject", subj, "error", err)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: connect to %s: %w", redact(url), err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(opts.PublishAsyncTimeout),
		jetstream.WithPublishAsyncMaxPending(opts.PublishAsyncMaxPending),
	)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if opts.WaitConnected > 0 {
		if err := waitConnected(ctx, nc, opts.WaitConnected); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("bus: connect to %s: %w", redact(url), err)
		}
	}
	return nc, js, nil
}

// waitConnected blocks until nc is connected, d has passed or ctx ends.
func waitConnected(ctx context.Context, nc *nats.Conn, d time.Duration) error {
	ch := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(ch)
	if nc.IsConnected() {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		if nc.IsConnected() {
			return nil
		}
		return fmt.Errorf("not connected after %s", d)
	case <-ctx.Done():
		return ctx.Err()
	}
}
