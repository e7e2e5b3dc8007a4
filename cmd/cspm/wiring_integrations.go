package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	incmd "github.com/cspm-es/cspm-es/commands/integrations"
	"github.com/cspm-es/cspm-es/domain"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/metrics"
	"github.com/cspm-es/cspm-es/platform/outbound"
	"github.com/cspm-es/cspm-es/platform/secretbox"
	"github.com/cspm-es/cspm-es/queries"
	inquery "github.com/cspm-es/cspm-es/queries/integrations"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// Integrations in `cspm serve` (api role, docs/integrations.md): the
// secret box (its key outside every database), the commands and queries,
// and four schedulers:
//   - the webhook dispatcher: every second, the due deliveries of each
//     active webhook (the outbox read model), each attempt through
//     DeliverWebhook (which reads the delivery's stream first, so an
//     acknowledged delivery is never sent again);
//   - the health checker: every minute, a TCP connect to each active
//     integration's url, recorded as IntegrationHealthChecked;
//   - the wizard expiry: open sessions past their expiry get WizardExpired;
//   - the SLA breach watcher: for each team with a webhook listening to
//     sla_breached, the SLA breaches read model's items recorded once each
//     (SLABreachRecorded).

var integrationsModule = fx.Module("integrations",
	fx.Provide(newSecretBox, newWebhookSender, newIntegrationCommands, newIntegrationQueries, newIntegrationService,
		newWebhookDispatcher, newHealthChecker, newWizardExpiry, newBreachWatcher),
	fx.Invoke(func(p singletonParams, d *webhookDispatcher, h *healthChecker, w *wizardExpiry, b *breachWatcher) {
		// One process of the deployment runs each (wiring_singleton.go).
		runSingleton(p, "webhooks", d.Run)
		runSingleton(p, "integration-health", h.Run)
		runSingleton(p, "wizard-expiry", w.Run)
		runSingleton(p, "sla-breaches", b.Run)
	}),
)

// The environment variables of the integrations module (read here, not in
// platform/config: docs/configuration.md, "Integrations").
const (
	envIntegrationsKey     = "CSPM_INTEGRATIONS_KEY"      // keys inline (base64 or hex, comma-separated; the first seals)
	envIntegrationsKeyFile = "CSPM_INTEGRATIONS_KEY_FILE" // a file of keys (default <data-dir>/integrations.key, created 0600)
	envWebhookTimeout      = "CSPM_WEBHOOK_TIMEOUT"       // one delivery attempt's bound (default 10s)
	integrationsKeyFile    = "integrations.key"
)

// newSecretBox is the box sealing the integrations' secrets.
func newSecretBox(cfg config.Config, log *slog.Logger) (*secretbox.Box, error) {
	log = log.With("component", "integrations")
	if v, ok := os.LookupEnv(envIntegrationsKey); ok && v != "" {
		keys, err := secretbox.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envIntegrationsKey, err)
		}
		return secretbox.New(keys...)
	}
	path := filepath.Join(cfg.DataDir, integrationsKeyFile)
	if v, ok := os.LookupEnv(envIntegrationsKeyFile); ok && v != "" {
		path = v
	}
	keys, created, err := secretbox.LoadOrCreateFile(path)
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if created {
		log.Warn("integrations secret key created: back it up apart from the databases (without it no sealed secret opens)", "path", path, "key_id", box.KeyID())
	}
	return box, nil
}

func newWebhookSender() (*outbound.HTTPSender, error) {
	timeout := outbound.DefaultTimeout
	if v, ok := os.LookupEnv(envWebhookTimeout); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive duration", envWebhookTimeout, v)
		}
		timeout = d
	}
	return outbound.NewHTTPSender(timeout), nil
}

func newIntegrationCommands(kit *commands.Kit, box *secretbox.Box, sender *outbound.HTTPSender) *incmd.Handlers {
	return incmd.New(kit, box, sender, outbound.TCPProber{Timeout: 5 * time.Second})
}

func newIntegrationQueries(rm ReadModels) *inquery.Service {
	return inquery.New(rm.Stores[dbregistry.INTEGRATIONS])
}

// integrationService is api.IntegrationService.
type integrationService struct {
	*incmd.Handlers
	*inquery.Service
}

func newIntegrationService(h *incmd.Handlers, q *inquery.Service) *integrationService {
	return &integrationService{h, q}
}

// --- the webhook dispatcher -------------------------------------------

const (
	webhookActor = "system:webhooks"
	webhookRoute = "serve webhook dispatcher"
)

type dispatchQueries interface {
	ActiveIntegrations(ctx context.Context, kind string, p queries.Page) (inquery.ActiveIntegrationList, error)
	DueDeliveries(ctx context.Context, integrationID string, now time.Time, limit int) ([]inquery.DueDelivery, error)
}

type webhookDeliverer interface {
	DeliverWebhook(ctx context.Context, meta commands.Meta, cmd incmd.DeliverWebhook) (incmd.Attempt, error)
}

// webhookDispatcher sends the due deliveries. Within a sweep a
// subscription's deliveries go in order (earliest due, then oldest event);
// its first failure ends its turn and holds the subscription until that
// delivery's next attempt, so a receiver that is down costs one attempt
// per backoff step, not one per pending delivery.
type webhookDispatcher struct {
	Interval time.Duration
	Batch    int
	q        dispatchQueries
	h        webhookDeliverer
	now      func() time.Time
	log      *slog.Logger
	attempts *prometheus.CounterVec

	mu   sync.Mutex
	hold map[string]time.Time // integration → not before
	done map[string]time.Time // deliveries acknowledged here, until the read model shows it
}

func newWebhookDispatcher(q *inquery.Service, h *incmd.Handlers, log *slog.Logger, reg *prometheus.Registry) *webhookDispatcher {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cspm_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome (delivered, failed, error)."}, []string{"outcome"})
	c, _ = metrics.Register(reg, c) // a clash leaves it unregistered: the counter still works
	return &webhookDispatcher{Interval: time.Second, Batch: 100, q: q, h: h, now: time.Now, log: log.With("component", "webhooks"),
		attempts: c, hold: map[string]time.Time{}, done: map[string]time.Time{}}
}

// Run sweeps at once, then every Interval, until ctx ends.
func (d *webhookDispatcher) Run(ctx context.Context) { everyInterval(ctx, d.Interval, d.Sweep) }

// Sweep attempts every due delivery and returns how many were
// acknowledged.
func (d *webhookDispatcher) Sweep(ctx context.Context) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for id, until := range d.done {
		if now.After(until) {
			delete(d.done, id)
		}
	}
	delivered := 0
	page := queries.Page{Limit: 200}
	for {
		list, err := d.q.ActiveIntegrations(ctx, string(in.KindWebhook), page)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("listing the webhooks failed; retrying at the next sweep", "error", err)
			}
			return delivered
		}
		for _, it := range list.Items {
			if until, ok := d.hold[it.ID]; ok && now.Before(until) {
				continue
			}
			delete(d.hold, it.ID)
			n, stop := d.subscription(ctx, it, now)
			delivered += n
			if stop {
				return delivered
			}
		}
		if list.NextCursor == "" {
			return delivered
		}
		page.Cursor = list.NextCursor
	}
}

// subscription sends one webhook's due deliveries; stop when ctx ended.
func (d *webhookDispatcher) subscription(ctx context.Context, it inquery.ActiveIntegration, now time.Time) (delivered int, stop bool) {
	due, err := d.q.DueDeliveries(ctx, it.ID, now, d.Batch)
	if err != nil {
		if ctx.Err() != nil {
			return 0, true
		}
		d.log.Warn("listing a webhook's due deliveries failed; retrying at the next sweep", "integration_id", it.ID, "error", err)
		return 0, false
	}
	for _, x := range due {
		if _, ok := d.done[x.ID]; ok {
			continue
		}
		meta := commands.Meta{TeamID: x.TeamID, Actor: webhookActor, Route: webhookRoute}
		a, err := d.h.DeliverWebhook(ctx, meta, incmd.DeliverWebhook{IntegrationID: it.ID, EventID: x.EventRef, EventKind: x.EventKind, Body: x.Body})
		ids := []any{"integration_id", it.ID, "team_id", x.TeamID, "delivery_id", x.ID, "event_kind", x.EventKind}
		var rule *domain.RuleError
		switch {
		case err == nil && a.Delivered:
			delivered++
			d.done[x.ID] = now.Add(time.Minute)
			d.attempts.WithLabelValues("delivered").Inc()
			d.log.Info("webhook delivered", append(ids, "status", a.StatusCode, "attempt", x.Attempts+1, "position", a.Result.Position)...)
		case errors.As(err, &rule) && rule.Code == in.CodeAlreadyDelivered:
			d.done[x.ID] = now.Add(time.Minute) // the read model is behind
		case errors.As(err, &rule):
			// The integration was removed meanwhile: its deliveries stop.
			d.log.Debug("webhook not delivered", append(ids, "code", rule.Code)...)
			return delivered, false
		case ctx.Err() != nil:
			return delivered, true
		case err == nil:
			d.attempts.WithLabelValues("failed").Inc()
			d.hold[it.ID] = a.NextAttemptAt
			d.log.Warn("webhook delivery failed; retrying with backoff", append(ids, "status", a.StatusCode, "error", a.Error,
				"attempt", x.Attempts+1, "next_attempt_at", a.NextAttemptAt)...)
			return delivered, false
		default:
			d.attempts.WithLabelValues("error").Inc()
			if a.Delivered && a.Unrecordable {
				d.done[x.ID] = now.Add(time.Minute)
			}
			d.hold[it.ID] = now.Add(in.DefaultBackoff.Min)
			d.log.Warn("webhook delivery not recorded; retrying at a later sweep", append(ids, "error", err, "acknowledged", a.Delivered)...)
			return delivered, false
		}
	}
	return delivered, false
}

// --- the health checker -------------------------------------------------

type healthChecker struct {
	Interval time.Duration
	q        interface {
		ActiveIntegrations(ctx context.Context, kind string, p queries.Page) (inquery.ActiveIntegrationList, error)
	}
	h interface {
		CheckIntegration(ctx context.Context, meta commands.Meta, cmd incmd.CheckIntegration) (commands.Result, error)
	}
	log *slog.Logger
}

func newHealthChecker(q *inquery.Service, h *incmd.Handlers, log *slog.Logger) *healthChecker {
	return &healthChecker{Interval: time.Minute, q: q, h: h, log: log.With("component", "integration-health")}
}

// Run checks at once, then every Interval, until ctx ends.
func (c *healthChecker) Run(ctx context.Context) { everyInterval(ctx, c.Interval, c.Sweep) }

// Sweep checks every active integration with a url; it returns how many
// checks it recorded.
func (c *healthChecker) Sweep(ctx context.Context) int {
	n := 0
	page := queries.Page{Limit: 200}
	for {
		list, err := c.q.ActiveIntegrations(ctx, "", page)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("listing the integrations to check failed; retrying at the next sweep", "error", err)
			}
			return n
		}
		for _, it := range list.Items {
			if it.URL == "" {
				continue
			}
			_, err := c.h.CheckIntegration(ctx, commands.Meta{TeamID: it.TeamID, Actor: "system:integration-health", Route: "serve integration health"},
				incmd.CheckIntegration{IntegrationID: it.ID})
			var rule *domain.RuleError
			switch {
			case err == nil:
				n++
			case errors.As(err, &rule):
			case ctx.Err() != nil:
				return n
			default:
				c.log.Warn("recording a health check failed", "integration_id", it.ID, "team_id", it.TeamID, "error", err)
			}
		}
		if list.NextCursor == "" {
			return n
		}
		page.Cursor = list.NextCursor
	}
}

// --- the wizard expiry --------------------------------------------------

type wizardExpiry struct {
	Interval time.Duration
	q        interface {
		DueWizards(ctx context.Context, now time.Time, p queries.Page) (inquery.DueWizardList, error)
	}
	h interface {
		ExpireWizard(ctx context.Context, meta commands.Meta, cmd incmd.ExpireWizard) (commands.Result, error)
	}
	now func() time.Time
	log *slog.Logger
}

func newWizardExpiry(q *inquery.Service, h *incmd.Handlers, log *slog.Logger) *wizardExpiry {
	return &wizardExpiry{Interval: time.Minute, q: q, h: h, now: time.Now, log: log.With("component", "integration-wizards")}
}

// Run sweeps at once, then every Interval, until ctx ends.
func (x *wizardExpiry) Run(ctx context.Context) { everyInterval(ctx, x.Interval, x.Sweep) }

// Sweep expires every open wizard session past its expiry.
func (x *wizardExpiry) Sweep(ctx context.Context) int {
	now := x.now()
	return expirySweep{kind: "wizard session", aKind: "a wizard session", kinds: "wizard sessions", idKey: "wizard_id", page: 200, log: x.log,
		list: func(ctx context.Context, p queries.Page) ([]dueItem, string, error) {
			list, err := x.q.DueWizards(ctx, now, p)
			items := make([]dueItem, 0, len(list.Items))
			for _, d := range list.Items {
				items = append(items, dueItem{ID: d.ID, TeamID: d.TeamID, Attrs: []any{"expires_at", d.ExpiresAt}})
			}
			return items, list.NextCursor, err
		},
		expire: func(ctx context.Context, it dueItem) (commands.Result, error) {
			meta := commands.Meta{TeamID: it.TeamID, Actor: "system:wizard-expiry", Route: "serve wizard expiry"}
			return x.h.ExpireWizard(ctx, meta, incmd.ExpireWizard{WizardID: it.ID})
		},
	}.run(ctx)
}

// --- the SLA breach watcher --------------------------------------------

type breachLister interface {
	ListBreaches(ctx context.Context, team string, f vulnquery.BreachFilter, p queries.Page) (vulnquery.BreachList, error)
}

type breachWatcher struct {
	Interval time.Duration
	MaxPages int
	q        dispatchQueries
	sla      breachLister // nil: no SLA module in this process
	h        interface {
		RecordSLABreach(ctx context.Context, meta commands.Meta, cmd incmd.RecordSLABreach) (commands.Result, error)
	}
	log *slog.Logger
	// recorded are the breaches this process knows are recorded (the
	// first sweep after a start asks the store for each; later ones skip
	// them).
	recorded map[string]bool
}

type breachWatcherParams struct {
	fx.In
	Q   *inquery.Service
	H   *incmd.Handlers
	SLA *slaService `optional:"true"`
	Log *slog.Logger
}

func newBreachWatcher(p breachWatcherParams) *breachWatcher {
	b := &breachWatcher{Interval: time.Minute, MaxPages: 50, q: p.Q, h: p.H, log: p.Log.With("component", "webhooks"), recorded: map[string]bool{}}
	if p.SLA != nil {
		b.sla = p.SLA
	}
	return b
}

// Run sweeps at once, then every Interval, until ctx ends.
func (b *breachWatcher) Run(ctx context.Context) { everyInterval(ctx, b.Interval, b.Sweep) }

// Sweep records the breaches of every team a webhook listens for; it
// returns how many it recorded (a breach recorded before is not counted).
func (b *breachWatcher) Sweep(ctx context.Context) int {
	if b.sla == nil {
		return 0
	}
	var teams []string
	page := queries.Page{Limit: 200}
	for {
		list, err := b.q.ActiveIntegrations(ctx, string(in.KindWebhook), page)
		if err != nil {
			return 0
		}
		for _, it := range list.Items {
			if slices.Contains(it.EventKinds, string(in.EventSLABreach)) && !slices.Contains(teams, it.TeamID) {
				teams = append(teams, it.TeamID)
			}
		}
		if list.NextCursor == "" {
			break
		}
		page.Cursor = list.NextCursor
	}
	n := 0
	for _, team := range teams {
		p := queries.Page{Limit: 200}
		for range b.MaxPages {
			list, err := b.sla.ListBreaches(ctx, team, vulnquery.BreachFilter{}, p)
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("listing SLA breaches failed; retrying at the next sweep", "team_id", team, "error", err)
				}
				break
			}
			for _, br := range list.Items {
				key := team + "\x00" + br.ID + "\x00" + br.DueAt.Format(time.RFC3339Nano)
				if b.recorded[key] {
					continue
				}
				_, err := b.h.RecordSLABreach(ctx, commands.Meta{TeamID: team, Actor: "system:sla-breach-watcher", Route: "serve sla breach watcher"},
					incmd.RecordSLABreach{ClockID: br.ID, Module: br.Module, Severity: br.Severity, VulnerabilityID: br.VulnerabilityID,
						ArtifactID: br.ArtifactID, Check: br.Check, Resource: br.Resource, KEV: br.KEV, DueAt: br.DueAt.Format(time.RFC3339Nano)})
				var inUse *commands.IDInUseError
				switch {
				case err == nil:
					n++
					b.recorded[key] = true
				case errors.Is(err, eventstore.ErrConflict), errors.As(err, &inUse):
					b.recorded[key] = true
				default:
					b.log.Warn("recording an SLA breach failed", "team_id", team, "clock_id", br.ID, "error", err)
				}
			}
			if list.NextCursor == "" {
				break
			}
			p.Cursor = list.NextCursor
		}
	}
	return n
}
