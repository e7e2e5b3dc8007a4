package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/lease"
	"github.com/cspm-es/cspm-es/platform/metrics"
)

// Schedulers run once per deployment (docs/decisions.md 110). The api
// and projector roles carry schedulers: the webhook dispatcher, the
// integrations' health checks, the expiry sweeps, the KRI observer, the
// embedding job, the retention cycle. With several processes of a role
// each would run them: a webhook sent by two processes at once reaches the
// receiver twice, a health check is recorded twice a minute, two retention
// cycles archive the same range. So with leases (an external NATS) a
// scheduler runs only in the process holding its lease
// scheduler.<name>, and another process takes it over a lease TTL after
// that one dies; without leases (embedded NATS: one process) it simply
// runs.

// schedulerKeyPrefix prefixes the schedulers' lease keys.
const schedulerKeyPrefix = "scheduler"

// schedulerLeaderGauge is cspm_scheduler_leader{scheduler,node}.
func schedulerLeaderGauge(reg *prometheus.Registry) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cspm_scheduler_leader",
		Help: "1 while this process runs the scheduler (it holds the scheduler's lease, or there are no leases); summed over the processes it is 1 per scheduler.",
	}, []string{"scheduler", "node"})
	g, _ = metrics.Register(reg, g) // a clash leaves it unregistered: the gauge still works
	return g
}

// singletonParams is what runSingleton needs from the graph.
type singletonParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Leases    *Leases `optional:"true"`
	Registry  *prometheus.Registry
	Logger    *slog.Logger
	Config    config.Config
}

// runSingleton runs the scheduler f (until its ctx ends) from start to
// stop: in this process alone while it holds the scheduler's lease when
// the process uses leases, at once otherwise.
func runSingleton(p singletonParams, name string, f func(ctx context.Context)) {
	gauge := schedulerLeaderGauge(p.Registry)
	l := p.Leases
	if l == nil {
		gauge.WithLabelValues(name, nodeID(p.Config)).Set(1)
		runBackground(p.Lifecycle, f)
		return
	}
	log := p.Logger.With("component", "scheduler", "scheduler", name, "node", l.Node)
	g := gauge.WithLabelValues(name, l.Node)
	g.Set(0)
	runBackground(p.Lifecycle, func(ctx context.Context) {
		kv := l.waitBucket(ctx, log, "scheduler "+name)
		if kv == nil {
			return
		}
		ls := lease.New(kv, schedulerKeyPrefix+"."+lease.KeyToken(name), l.Node, l.TTL)
		lease.Elect(ctx, ls, l.TTL/12, func(leading bool, term uint64, err error) {
			switch {
			case leading:
				g.Set(1)
				log.Info("scheduler: this process runs it", "term", term)
			case term != 0:
				g.Set(0)
				if err != nil {
					log.Warn("scheduler: no longer run here", "term", term, "error", err)
				} else {
					log.Info("scheduler: no longer run here", "term", term)
				}
			case err != nil:
				log.Debug("scheduler lease attempt failed", "error", err)
			}
		}, f)
	})
}
