package integrations

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	in "github.com/cspm-es/cspm-es/domain/integrations"
)

// CheckIntegration probes the integration's endpoint (its config's url: a
// TCP connect to its host and port) and records the outcome, up or down
// with the latency and error, on the integration's health stream of the
// day.
type CheckIntegration struct {
	IntegrationID string `json:"-"`
}

// ProbeMethod is how a check reaches an endpoint.
const ProbeMethod = "tcp_connect"

// CheckIntegration records one health check (the checker of `cspm serve`
// sends it; POST /api/v1/integrations/{id}/check too).
func (h *Handlers) CheckIntegration(ctx context.Context, meta commands.Meta, cmd CheckIntegration) (commands.Result, error) {
	const name = "CheckIntegration"
	it, err := h.loadIntegration(ctx, meta, name, cmd.IntegrationID)
	if err != nil {
		return commands.Result{}, err
	}
	if err := it.Usable(); err != nil {
		return commands.Result{}, err
	}
	if h.prober == nil {
		return commands.Result{}, fmt.Errorf("%s: no prober in this process", name)
	}
	url := it.Config["url"]
	if url == "" {
		return commands.Result{}, domain.Rule(in.CodeNoEndpoint, "the integration %s has no url to check", it.ID)
	}
	start := h.start()
	probeErr := h.prober.Probe(ctx, url)
	latency := h.elapsed(start)
	if ctx.Err() != nil {
		return commands.Result{}, ctx.Err()
	}
	at := h.kit.Now()
	c := commands.Call{Name: name, TargetID: it.ID, Body: cmd, StreamID: HealthStreamID(it.ID, in.HealthDay(at)), Type: StreamTypeHealth}
	res, err := commands.Upsert(ctx, h.kit, meta, c, func([]in.Event) ([]in.Event, error) {
		return in.RecordHealth(it.ID, ProbeMethod, latency, probeErr, at), nil
	})
	res.ID = idOf(res, it.ID)
	return res, err
}
