package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/lease"
	"github.com/cspm-es/cspm-es/platform/metrics"
	"github.com/cspm-es/cspm-es/projections"
)

// Several processes (docs/decisions.md 83-85). With an external NATS
// (--nats-url) any number of processes may run each role: the relays elect
// a leader, and the projectors share the projections, through leases in
// the JetStream key-value bucket CSPM_LEASES. With the embedded NATS
// server one process owns the data directory (its lock) and runs every
// relay and projection itself: no leases.

// leasesUsed reports whether cfg's processes coordinate through leases.
func leasesUsed(cfg config.Config) bool { return !cfg.EmbeddedNATS() }

// nodeID is this process's name in leases, status and logs.
func nodeID(cfg config.Config) string {
	if cfg.NodeID != "" {
		return cfg.NodeID
	}
	return lease.DefaultNodeID()
}

// Leases opens the lease bucket on first use: through the process's bus
// when it has one, else (an api-only process, which reads owners only)
// through a connection of its own.
type Leases struct {
	Node string
	TTL  time.Duration

	cfg  config.Config
	bus  *Bus
	log  *slog.Logger
	mu   sync.Mutex
	kv   jetstream.KeyValue
	conn *nats.Conn // our own, when there is no bus

	ownersMu sync.Mutex
	owners   map[string]string
	ownersAt time.Time
}

type leasesParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    config.Config
	Bus       *Bus `optional:"true"`
	Logger    *slog.Logger
}

// newLeases is nil when the process does not use leases.
func newLeases(p leasesParams) *Leases {
	if !leasesUsed(p.Config) {
		return nil
	}
	l := &Leases{Node: nodeID(p.Config), TTL: p.Config.LeaseTTL, cfg: p.Config, bus: p.Bus, log: p.Logger}
	p.Lifecycle.Append(fx.StopHook(l.close))
	return l
}

// close closes the connection the leases opened for themselves.
func (l *Leases) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close()
	}
}

// bucket opens (once) the lease bucket.
func (l *Leases) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	var js jetstream.JetStream
	if l.bus != nil {
		js = l.bus.JetStream
	} else {
		if l.conn == nil {
			nc, njs, err := bus.Connect(ctx, l.cfg.NATSURL, bus.ConnectOptions{Name: "cspm-leases", Logger: l.log})
			if err != nil {
				return nil, err
			}
			l.conn, js = nc, njs
		} else {
			var err error
			if js, err = jetstream.New(l.conn); err != nil {
				return nil, err
			}
		}
	}
	kv, err := lease.OpenBucket(ctx, js, lease.DefaultBucket, l.cfg.StreamReplicas)
	if err != nil {
		return nil, err
	}
	l.kv = kv
	return kv, nil
}

// waitBucket opens the lease bucket, retrying (with backoff) while NATS
// cannot give it; nil once ctx ends.
func (l *Leases) waitBucket(ctx context.Context, log *slog.Logger, who string) jetstream.KeyValue {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		kv, err := l.bucket(ctx)
		if err == nil {
			return kv
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn(who+": lease bucket unavailable; retrying", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// projectionKeyPrefix prefixes the projections' lease keys.
const projectionKeyPrefix = "projection"

// relayLeaseKey is the relay leader's lease.
const relayLeaseKey = "relay"

// Owners reads which node owns each named projection (cached for a second:
// the status monitor asks every few seconds, every API status call too).
func (l *Leases) Owners(ctx context.Context, names []string) (map[string]string, error) {
	l.ownersMu.Lock()
	defer l.ownersMu.Unlock()
	if time.Since(l.ownersAt) < time.Second {
		return l.owners, nil
	}
	kv, err := l.bucket(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		rec, held, err := lease.Owner(ctx, kv, projectionKeyPrefix+"."+lease.KeyToken(n))
		if err != nil {
			return nil, err
		}
		if held {
			out[n] = rec.Owner
		}
	}
	l.owners, l.ownersAt = out, time.Now()
	return out, nil
}

// ownersFunc is RuntimeDeps.Owners for the projections ps (nil without leases).
func ownersFunc(l *Leases, ps []projections.Projection) func(context.Context) (map[string]string, error) {
	if l == nil {
		return nil
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.Name())
	}
	return func(ctx context.Context) (map[string]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return l.Owners(ctx, names)
	}
}

// RelayLeadership says whether this process's relay leads (always, without
// leases).
type RelayLeadership struct {
	used    bool
	leading atomic.Bool
	term    atomic.Uint64
	leader  *prometheus.GaugeVec
}

func newRelayLeadership(cfg config.Config, reg *prometheus.Registry) (*RelayLeadership, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cspm_relay_leader",
		Help: "1 while this process's relay holds the relay lease and publishes, 0 while it stands by (label node: this process).",
	}, []string{"node"})
	g, err := metrics.Register(reg, g)
	if err != nil {
		return nil, err
	}
	rl := &RelayLeadership{used: leasesUsed(cfg), leader: g}
	if !rl.used {
		rl.leading.Store(true)
		g.WithLabelValues(nodeID(cfg)).Set(1)
	}
	return rl, nil
}

// Standby reports a relay that waits for the lease (it is ready all the same).
func (rl *RelayLeadership) Standby() bool { return rl.used && !rl.leading.Load() }

// runRelay runs the relay and its monitor until ctx ends: at once without
// leases, else only while this process holds the relay lease.
func runRelay(ctx context.Context, r *relay.Relay, rl *RelayLeadership, l *Leases, cfg config.Config, log *slog.Logger) {
	run := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { r.Monitor(ctx, cfg.StallTimeout, relayMonitorInterval) })
		if err := r.Run(ctx); err != nil {
			log.Error("relay stopped", "err", err)
		}
		<-ctx.Done()
		wg.Wait()
	}
	if l == nil {
		run(ctx)
		return
	}
	log = log.With("component", "relay", "node", l.Node)
	kv := l.waitBucket(ctx, log, "relay")
	if kv == nil {
		return
	}
	gauge := rl.leader.WithLabelValues(l.Node)
	gauge.Set(0)
	log.Info("relay standing by for the relay lease", "lease_ttl", l.TTL)
	ls := lease.New(kv, relayLeaseKey, l.Node, l.TTL)
	lease.Elect(ctx, ls, l.TTL/12, func(leading bool, term uint64, err error) {
		switch {
		case leading:
			rl.leading.Store(true)
			rl.term.Store(term)
			gauge.Set(1)
			log.Info("relay leader: this process publishes", "term", term)
		case term != 0 && err == nil: // a clean stop
			rl.leading.Store(false)
			gauge.Set(0)
			log.Info("relay leadership ended", "term", term)
		case term != 0:
			rl.leading.Store(false)
			gauge.Set(0)
			log.Warn("relay leadership ended", "term", term, "error", err)
		case err != nil:
			log.Debug("relay lease attempt failed", "error", err)
		}
	}, run)
}

// ownedGauge is cspm_projection_owned{projection,node}: 1 while this process
// owns the projection's lease. Summed over the processes it is 1 per
// projection; 0 means nobody runs it (alert on that).
func ownedGauge(reg *prometheus.Registry) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cspm_projection_owned",
		Help: "1 while this projector process owns the projection's lease (label node: this process); the sum over processes should be 1 per projection.",
	}, []string{"projection", "node"})
	g, _ = metrics.Register(reg, g) // a clash leaves it unregistered: the gauge still works
	return g
}

// runProjectorBalancer shares the runtime's projections with the other
// projector processes until ctx ends (then hands its own back).
func runProjectorBalancer(ctx context.Context, rt *projections.Runtime, l *Leases, reg *prometheus.Registry, log *slog.Logger) {
	owned := ownedGauge(reg)
	log = log.With("node", l.Node) // already tagged component=projections
	kv := l.waitBucket(ctx, log, "projections")
	if kv == nil {
		return
	}
	b := lease.NewBalancer(lease.BalancerConfig{
		KV: kv, Owner: l.Node, Group: "projector", Prefix: projectionKeyPrefix, Names: rt.Names(), TTL: l.TTL, Logger: l.log,
		Start: func(name string, ls *lease.Lease) {
			if err := rt.Own(name, ls.Term(), ls.Valid); err != nil {
				log.Error("projections: own", "projection", name, "error", err)
				return
			}
			owned.WithLabelValues(name, l.Node).Set(1)
		},
		Stop: func(ctx context.Context, name string) {
			sctx, cancel := context.WithTimeout(ctx, l.TTL)
			defer cancel()
			owned.WithLabelValues(name, l.Node).Set(0)
			if err := rt.Disown(sctx, name); err != nil {
				log.Warn("projections: disown", "projection", name, "error", err)
			}
		},
	})
	b.Run(ctx)
}
