package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	incmd "github.com/cspm-es/cspm-es/commands/integrations"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/outbound"
	"github.com/cspm-es/cspm-es/platform/secretbox"
	"github.com/cspm-es/cspm-es/queries"
	inquery "github.com/cspm-es/cspm-es/queries/integrations"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// receiver is a webhook receiver that fails (5xx), hangs (never answers
// before the sender's timeout) or acknowledges, as told; it verifies every
// request's signature and counts, per delivery id, the requests that came
// after it acknowledged that delivery.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	mode   string // fail, hang, ok
	seen   map[string]int
	acked  map[string]bool
	after  map[string]int // requests after the acknowledgement
	bodies map[string][]byte
	bad    []string
	byMode map[string]int
}

func newReceiver(secret string) *receiver {
	return &receiver{secret: []byte(secret), mode: "fail", seen: map[string]int{}, acked: map[string]bool{}, after: map[string]int{},
		bodies: map[string][]byte{}, byMode: map[string]int{}}
}

func (r *receiver) set(mode string) { r.mu.Lock(); r.mode = mode; r.mu.Unlock() }

func (r *receiver) count(mode string) int { r.mu.Lock(); defer r.mu.Unlock(); return r.byMode[mode] }

func (r *receiver) ackedIDs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, _ := strconv.ParseInt(req.Header.Get(in.HeaderTimestamp), 10, 64)
	id := req.Header.Get(in.HeaderDelivery)
	r.mu.Lock()
	mode := r.mode
	r.byMode[mode]++
	r.seen[id]++
	if !in.Verify(r.secret, ts, body, req.Header.Get(in.HeaderSignature)) {
		r.bad = append(r.bad, id)
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.acked[id] {
		r.after[id]++
	}
	if prev, ok := r.bodies[id]; ok && string(prev) != string(body) {
		r.bad = append(r.bad, id+": body changed between attempts")
	}
	r.bodies[id] = body
	if mode == "ok" {
		r.acked[id] = true
	}
	r.mu.Unlock()
	switch mode {
	case "fail":
		w.WriteHeader(http.StatusServiceUnavailable)
	case "hang":
		<-req.Context().Done() // the sender gives up first
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// fastWebhooks tunes the app's webhook machinery for a test: sweeps every
// 20ms, backoff 50ms..200ms, attempts bounded at 300ms.
func fastWebhooks(d **webhookDispatcher) []fx.Option {
	return []fx.Option{
		fx.Decorate(func(h *incmd.Handlers) *incmd.Handlers {
			return h.WithBackoff(in.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond})
		}),
		fx.Decorate(func() *outbound.HTTPSender { return outbound.NewHTTPSender(300 * time.Millisecond) }),
		fx.Decorate(func(x *webhookDispatcher) *webhookDispatcher { x.Interval = 20 * time.Millisecond; return x }),
		fx.Populate(d),
	}
}

// TestWebhooks_ReceiverFailsHangsRecovers: a webhook subscribed to failed
// scans and critical findings, its receiver failing (503), then hanging,
// then back: every delivery arrives, signed, with the same body on every
// attempt; none is sent again once acknowledged; the delivery log says so.
// The signing secret is in no stored event, no log line and no answer.
func TestWebhooks_ReceiverFailsHangsRecovers(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-signing-key-for-the-test-0001"
	rcv := newReceiver(secret)
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	var dispatcher *webhookDispatcher
	a := startAppWith(t, nil, fastWebhooks(&dispatcher)...)

	var created struct{ ID string }
	must(t, a.post(t, "/api/v1/integrations", map[string]any{"name": "pager", "kind": "webhook", "config": map[string]any{"url": srv.URL + "/hook"},
		"event_kinds": []string{"scan_run_failed", "critical_finding_raised"}, "secret": secret}), http.StatusCreated).data(t, &created)
	require.NotEmpty(t, created.ID)

	// 3 failed scans and 2 critical findings (the high one is no delivery).
	for i := range 3 {
		id := fmt.Sprintf("wh-scan-%d", i)
		a.newScan(t, id)
		must(t, a.post(t, "/api/v1/scans/"+id+"/start", nil), http.StatusAccepted)
		must(t, a.post(t, "/api/v1/scans/"+id+"/fail", map[string]any{"reason": "scanner crashed"}), http.StatusAccepted)
	}
	a.newScan(t, "wh-findings")
	must(t, a.post(t, "/api/v1/scans/wh-findings/start", nil), http.StatusAccepted)
	a.raise(t, "wh-findings", "critical", "critical", "high")
	const want = 5

	deliveries := func(status string) []inquery.Delivery {
		var list []inquery.Delivery
		path := "/api/v1/integrations/" + created.ID + "/deliveries?limit=100"
		if status != "" {
			path += "&status=" + status
		}
		ans := a.get(t, path)
		if ans.status == http.StatusNotFound { // the read model has not seen the integration yet
			return nil
		}
		must(t, ans, http.StatusOK).data(t, &list)
		return list
	}
	eventually(t, 30*time.Second, "5 deliveries pending", func() bool { return len(deliveries("")) == want })
	eventually(t, 30*time.Second, "failed attempts", func() bool { return rcv.count("fail") >= 3 })
	rcv.set("hang")
	eventually(t, 30*time.Second, "hung attempts", func() bool { return rcv.count("hang") >= 2 })
	assert.Zero(t, rcv.ackedIDs())
	rcv.set("ok")
	eventually(t, 30*time.Second, "every delivery acknowledged", func() bool { return rcv.ackedIDs() == want })
	eventually(t, 30*time.Second, "the log shows them delivered", func() bool { return len(deliveries("delivered")) == want })

	// More sweeps send nothing more.
	for range 5 {
		assert.Zero(t, dispatcher.Sweep(context.Background()))
	}
	rcv.mu.Lock()
	assert.Empty(t, rcv.bad, "signatures verified, bodies stable")
	for id, n := range rcv.after {
		assert.Zero(t, n, "delivery %s sent again after its acknowledgement", id)
	}
	kinds := map[string]int{}
	for _, b := range rcv.bodies {
		var p struct {
			EventKind string         `json:"event_kind"`
			TeamID    string         `json:"team_id"`
			Data      map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(b, &p))
		kinds[p.EventKind]++
	}
	rcv.mu.Unlock()
	assert.Equal(t, map[string]int{"scan_run_failed": 3, "critical_finding_raised": 2}, kinds)
	retried := 0
	for _, d := range deliveries("") {
		assert.Equal(t, "delivered", d.Status)
		if d.Attempts > 1 {
			retried++
		}
	}
	assert.Positive(t, retried, "some deliveries were retried")

	// The secret: never in an event, a log line or an answer.
	ctx := context.Background()
	for after := int64(0); ; {
		evs, err := a.store.ReadAll(ctx, after, 500)
		require.NoError(t, err)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			assert.NotContains(t, string(e.Data), secret, "event %s (%s)", e.EventID, e.Type)
			md, _ := json.Marshal(e.Metadata)
			assert.NotContains(t, string(md), secret)
		}
		after = evs[len(evs)-1].Position
	}
	assert.NotContains(t, a.logs.String(), secret)
	for _, p := range []string{"/api/v1/integrations", "/api/v1/integrations/" + created.ID, "/api/v1/integrations/" + created.ID + "/deliveries"} {
		ans := must(t, a.get(t, p), http.StatusOK)
		assert.NotContains(t, string(ans.raw), secret, p)
	}
	var it inquery.Integration
	must(t, a.get(t, "/api/v1/integrations/"+created.ID), http.StatusOK).data(t, &it)
	assert.True(t, it.HasSecret)
	assert.False(t, strings.Contains(string(must(t, a.get(t, "/api/v1/integrations/"+created.ID), http.StatusOK).raw), "ciphertext"))
}

// isolationIntegrationWorld gives team A a webhook (active), a chat
// integration (removed), an open wizard and a completed one; it returns
// the integrations' ids, the wizards' ids and what of them no other team
// may see (names, urls).
func isolationIntegrationWorld(t *testing.T, a *testApp, asA []string) (integrations, wizards, secrets []string) {
	t.Helper()
	var res struct{ ID string }
	must(t, a.call(t, http.MethodPost, "/api/v1/integrations", map[string]any{"name": "iso-a-hook", "kind": "webhook",
		"config": map[string]any{"url": "https://iso-a-hook.example/in"}, "event_kinds": []string{"scan_run_failed"}, "secret": "iso-a-secret-0123456789"}, asA...), http.StatusCreated).data(t, &res)
	integrations = append(integrations, res.ID)
	must(t, a.call(t, http.MethodPost, "/api/v1/integrations", map[string]any{"name": "iso-a-chat", "kind": "chat",
		"config": map[string]any{"channel": "#iso-a-channel"}}, asA...), http.StatusCreated).data(t, &res)
	integrations = append(integrations, res.ID)
	must(t, a.call(t, http.MethodDelete, "/api/v1/integrations/"+res.ID, nil, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/integration-wizards", map[string]any{"kind": "siem"}, asA...), http.StatusCreated).data(t, &res)
	wizards = append(wizards, res.ID)
	must(t, a.call(t, http.MethodPut, "/api/v1/integration-wizards/"+res.ID+"/steps/basics", map[string]any{"data": map[string]any{"name": "iso-a-siem"}}, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/integration-wizards", map[string]any{"kind": "ticketing"}, asA...), http.StatusCreated).data(t, &res)
	wizards = append(wizards, res.ID)
	must(t, a.call(t, http.MethodPut, "/api/v1/integration-wizards/"+res.ID+"/steps/basics", map[string]any{"data": map[string]any{"name": "iso-a-tickets"}}, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPut, "/api/v1/integration-wizards/"+res.ID+"/steps/connection", map[string]any{"data": map[string]any{"project": "ISO"}}, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/integration-wizards/"+res.ID+"/complete", nil, asA...), http.StatusCreated)
	integrations = append(integrations, res.ID)
	return integrations, wizards, []string{"iso-a-hook", "iso-a-chat", "iso-a-siem", "iso-a-tickets", "#iso-a-channel", "iso-a-secret-0123456789"}
}

// quietIntegrationChecks keeps the health checker from checking during a
// test (its first sweep runs at start, before any integration exists).
func quietIntegrationChecks() fx.Option {
	return fx.Decorate(func(c *healthChecker) *healthChecker { c.Interval = time.Hour; return c })
}

type fakeActive struct{ items []inquery.ActiveIntegration }

func (f fakeActive) ActiveIntegrations(_ context.Context, kind string, _ queries.Page) (inquery.ActiveIntegrationList, error) {
	var out inquery.ActiveIntegrationList
	for _, it := range f.items {
		if kind == "" || it.Kind == kind {
			out.Items = append(out.Items, it)
		}
	}
	return out, nil
}

func (fakeActive) DueDeliveries(context.Context, string, time.Time, int) ([]inquery.DueDelivery, error) {
	return nil, nil
}

type fakeBreaches map[string][]vulnquery.Breach

func (f fakeBreaches) ListBreaches(_ context.Context, team string, _ vulnquery.BreachFilter, _ queries.Page) (vulnquery.BreachList, error) {
	return vulnquery.BreachList{Items: f[team]}, nil
}

// breachRecorder records each breach once, like the stream per breach.
type breachRecorder struct {
	mu   sync.Mutex
	seen map[string]incmd.RecordSLABreach
}

func (r *breachRecorder) RecordSLABreach(_ context.Context, m commands.Meta, cmd incmd.RecordSLABreach) (commands.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := m.TeamID + "/" + cmd.ClockID + "/" + cmd.DueAt
	if _, ok := r.seen[key]; ok {
		return commands.Result{}, fmt.Errorf("RecordSLABreach: %w", eventstore.ErrConflict)
	}
	r.seen[key] = cmd
	return commands.Result{ID: key}, nil
}

// The breach watcher records the breaches of the teams whose webhooks
// listen to sla_breached, each once across sweeps.
func TestBreachWatcherSweep(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	rec := &breachRecorder{seen: map[string]incmd.RecordSLABreach{}}
	w := &breachWatcher{MaxPages: 10, log: slog.New(slog.DiscardHandler), h: rec, recorded: map[string]bool{},
		q: fakeActive{items: []inquery.ActiveIntegration{
			{ID: "h1", TeamID: "team-a", Kind: "webhook", EventKinds: []string{"sla_breached"}},
			{ID: "h2", TeamID: "team-a", Kind: "webhook", EventKinds: []string{"sla_breached", "scan_run_failed"}}, // the same team once
			{ID: "h3", TeamID: "team-b", Kind: "webhook", EventKinds: []string{"scan_run_failed"}},                 // not listening
		}},
		sla: fakeBreaches{
			"team-a": {{ID: "occ-1", Module: "vulnerabilities", VulnerabilityID: "CVE-1", Severity: "high", DueAt: due},
				{ID: "fnd-1", Module: "cloud_findings", Check: "c", Resource: "r", Severity: "critical", DueAt: due}},
			"team-b": {{ID: "occ-b", Module: "vulnerabilities", Severity: "low", DueAt: due}},
		}}
	assert.Equal(t, 2, w.Sweep(context.Background()))
	assert.Equal(t, 0, w.Sweep(context.Background()), "recorded once")
	w.recorded = map[string]bool{} // a restart: the store says they are recorded
	assert.Equal(t, 0, w.Sweep(context.Background()))
	require.Len(t, rec.seen, 2)
	got := rec.seen["team-a/occ-1/"+due.Format(time.RFC3339Nano)]
	assert.Equal(t, "CVE-1", got.VulnerabilityID)
	w.sla = nil
	assert.Zero(t, w.Sweep(context.Background()), "no SLA module in the process: nothing")
}

// Health checks through the app: a check of a listening endpoint is up, of
// a closed one down; the history gives the uptime. A wizard session is
// resumed, then expired by the scheduler a day later (WizardExpired in its
// stream's history), and a save after that is refused.
func TestIntegrationHealthAndWizardExpiry(t *testing.T) {
	t.Parallel()
	var expiry *wizardExpiry
	a := startAppWith(t, nil, quietIntegrationChecks(), fx.Populate(&expiry))
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	var it struct{ ID string }
	must(t, a.post(t, "/api/v1/integrations", map[string]any{"name": "siem", "kind": "siem", "config": map[string]any{"url": up.URL}}), http.StatusCreated).data(t, &it)
	must(t, a.post(t, "/api/v1/integrations/"+it.ID+"/check", nil), http.StatusAccepted)
	must(t, a.call(t, http.MethodPut, "/api/v1/integrations/"+it.ID, map[string]any{"name": "siem", "config": map[string]any{"url": closedURL}}), http.StatusAccepted)
	pos := must(t, a.post(t, "/api/v1/integrations/"+it.ID+"/check", nil), http.StatusAccepted).env.Meta.Position
	var h inquery.HealthHistory
	must(t, a.get(t, fmt.Sprintf("/api/v1/integrations/%s/health?min_position=%d", it.ID, pos)), http.StatusOK).data(t, &h)
	require.Equal(t, 2, h.Checks)
	assert.Equal(t, 1, h.UpChecks)
	require.NotNil(t, h.Uptime)
	assert.InDelta(t, 0.5, *h.Uptime, 1e-9)
	assert.Equal(t, "up", h.Items[0].Result)
	assert.Equal(t, "down", h.Items[1].Result)
	assert.Contains(t, h.Items[1].Error, "tcp connect")
	var got inquery.Integration
	must(t, a.get(t, "/api/v1/integrations/"+it.ID), http.StatusOK).data(t, &got)
	assert.Equal(t, "down", got.Connection.State)
	assert.EqualValues(t, 1, got.Connection.ConsecutiveFailures)

	var w struct{ ID string }
	must(t, a.post(t, "/api/v1/integration-wizards", map[string]any{"kind": "chat"}), http.StatusCreated).data(t, &w)
	pos = must(t, a.call(t, http.MethodPut, "/api/v1/integration-wizards/"+w.ID+"/steps/basics", map[string]any{"data": map[string]any{"name": "chat"}}), http.StatusAccepted).env.Meta.Position
	var wiz inquery.Wizard
	must(t, a.get(t, fmt.Sprintf("/api/v1/integration-wizards/%s?min_position=%d", w.ID, pos)), http.StatusOK).data(t, &wiz)
	assert.Equal(t, "connection", wiz.NextStep, "resumed where it stopped")
	assert.Zero(t, expiry.Sweep(context.Background()), "not due yet")
	// A day later (the scheduler's clock and the command's).
	later := func() time.Time { return time.Now().Add(in.WizardTTL + time.Minute) }
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	require.NoError(t, err)
	expiry.now, expiry.h = later, incmd.New(commands.NewKit(a.store, eventstore.NewDomainCodec(), later), box, nil, nil)
	assert.Equal(t, 1, expiry.Sweep(context.Background()))
	assert.Zero(t, expiry.Sweep(context.Background()), "expired once")
	evs, err := a.store.ReadStream(context.Background(), incmd.WizardStreamID(w.ID), eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Equal(t, "WizardExpired", evs[2].Type)
	ans := must(t, a.call(t, http.MethodPut, "/api/v1/integration-wizards/"+w.ID+"/steps/connection", map[string]any{"data": map[string]any{"channel": "#c"}}), http.StatusUnprocessableEntity)
	assert.Equal(t, in.CodeWizardExpired, ans.env.Error.Code)
}
