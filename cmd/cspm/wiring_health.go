package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/projections"
)

// Readiness: each module of `cspm serve` contributes the checks of what it
// runs to the "readiness" group, and /readyz runs them all. A check's error
// is the reason /readyz gives: a component, a position, a count, never data.

// readinessCheck annotates a constructor of a check into the group.
func readinessCheck(f any) fx.Option {
	return fx.Provide(fx.Annotate(f, fx.ResultTags(`group:"readiness"`)))
}

// readinessChecks are the process's checks, for the API.
type readinessChecks struct {
	fx.In
	Checks []api.ReadinessChecker `group:"readiness"`
}

// storeReadiness: the event store answers.
func storeReadiness(store eventstore.Store) api.ReadinessChecker {
	return api.ReadinessCheck("eventstore", func(ctx context.Context) error {
		if _, err := store.HeadPosition(ctx); err != nil {
			return &api.NotReady{Reason: "the event store does not answer", Cause: err}
		}
		return nil
	})
}

// busReadiness: connected to NATS, and JetStream answers (an embedded
// server disables JetStream when its disk fills up).
func busReadiness(b *Bus) api.ReadinessChecker {
	return api.ReadinessCheck("bus", func(ctx context.Context) error {
		if st := b.Conn.Status(); st != nats.CONNECTED {
			return &api.NotReady{Reason: "not connected to NATS (" + strings.ToLower(st.String()) + ")"}
		}
		if _, err := b.JetStream.AccountInfo(ctx); err != nil {
			return &api.NotReady{Reason: "JetStream does not answer", Cause: err}
		}
		return nil
	})
}

// relayReadiness: the relay is running and not stalled, or stands by
// for the relay lease (another process leads).
func relayReadiness(r *relay.Relay, rl *RelayLeadership, cfg config.Config) api.ReadinessChecker {
	return api.ReadinessCheck("relay", func(ctx context.Context) error {
		if rl.Standby() {
			return nil
		}
		if h := r.Health(ctx, cfg.StallTimeout); h.Problem != "" {
			return &api.NotReady{Reason: h.Problem, Cause: lastError(h.LastError)}
		}
		return nil
	})
}

// projectionsReadiness: no projection is stalled or waits for a rebuild.
func projectionsReadiness(rt *projections.Runtime) api.ReadinessChecker {
	return api.ReadinessCheck("projections", func(ctx context.Context) error {
		var problems, causes []string
		for _, st := range rt.Status(ctx) {
			if p := st.Problem(); p != "" {
				problems = append(problems, st.Name+" "+p)
				if st.LastError != "" {
					causes = append(causes, st.Name+": "+st.LastError)
				}
			}
		}
		if len(problems) > 0 {
			return &api.NotReady{Reason: strings.Join(problems, "; "), Cause: lastError(strings.Join(causes, "; "))}
		}
		return nil
	})
}

// lastError is a component's last error as a readiness cause (nil when
// there is none).
func lastError(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// relayView serves GET /api/v1/relay from the process's relay.
type relayView struct {
	r     *relay.Relay
	bound time.Duration
}

func (v relayView) RelayStatus(ctx context.Context) api.RelayStatus {
	h := v.r.Health(ctx, v.bound)
	return api.RelayStatus{
		Stream: h.Stream, Running: h.Running, Published: h.Published, Head: h.Head,
		LagEvents: h.Lag, LagSeconds: h.LagSeconds, Failing: h.Failing,
		LastError: h.LastError, LastErrorAt: h.LastErrorAt, ProgressAt: h.ProgressAt,
		StalledSince: h.StalledSince, Problem: h.Problem,
		ByReference: h.ByReference, LastByReference: h.LastByReference,
	}
}
