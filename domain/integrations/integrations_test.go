package integrations_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/domaintest"
	in "github.com/cspm-es/cspm-es/domain/integrations"
)

var (
	t0     = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	sealed = in.Sealed{KeyID: "k1", Ciphertext: "Y2lwaGVy"}
	hook   = in.Spec{Name: "pager", Kind: in.KindWebhook, Config: map[string]string{"url": "https://h.example/in"}, EventKinds: []in.EventKind{in.EventScanFailed}}
)

func created(s in.Spec) in.IntegrationCreated {
	return in.IntegrationCreated{IntegrationID: "i1", Name: s.Name, Kind: s.Kind, Config: s.Config, EventKinds: s.EventKinds, Secret: sealed, CreatedAt: t0}
}

func TestCreateIntegration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		spec in.Spec
		then domaintest.Then[in.Event]
	}{
		{"a webhook", hook, domaintest.Then[in.Event]{Events: []in.Event{created(hook)}}},
		{"a chat without url", in.Spec{Name: "c", Kind: in.KindChat, Config: map[string]string{"channel": "#sec"}},
			domaintest.Then[in.Event]{Events: []in.Event{created(in.Spec{Name: "c", Kind: in.KindChat, Config: map[string]string{"channel": "#sec"}})}}},
		{"no name, unknown kind", in.Spec{Kind: "pigeon"}, domaintest.Then[in.Event]{Fields: []string{"name", "kind"}}},
		{"a webhook without url or kinds", in.Spec{Name: "h", Kind: in.KindWebhook}, domaintest.Then[in.Event]{Fields: []string{"config.url", "event_kinds"}}},
		{"a webhook to ftp", in.Spec{Name: "h", Kind: in.KindWebhook, Config: map[string]string{"url": "ftp://h.example"}, EventKinds: []in.EventKind{in.EventSLABreach}},
			domaintest.Then[in.Event]{Fields: []string{"config.url"}}},
		{"credentials in the url", in.Spec{Name: "h", Kind: in.KindWebhook, Config: map[string]string{"url": "https://u:p@h.example"}, EventKinds: []in.EventKind{in.EventSLABreach}},
			domaintest.Then[in.Event]{Fields: []string{"config.url"}}},
		{"a secret in config", in.Spec{Name: "t", Kind: in.KindTicketing, Config: map[string]string{"api_token": "x"}}, domaintest.Then[in.Event]{Fields: []string{"config.api_token"}}},
		{"unknown and repeated kinds", in.Spec{Name: "h", Kind: in.KindWebhook, Config: map[string]string{"url": "https://h.example"},
			EventKinds: []in.EventKind{"everything", in.EventSLABreach, in.EventSLABreach}}, domaintest.Then[in.Event]{Fields: []string{"event_kinds", "event_kinds"}}},
		{"event kinds on a SIEM", in.Spec{Name: "s", Kind: in.KindSIEM, EventKinds: []in.EventKind{in.EventSLABreach}}, domaintest.Then[in.Event]{Fields: []string{"event_kinds"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.CreateIntegration("i1", tt.spec, sealed, t0)
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
}

func TestIntegrationChangeAndRemove(t *testing.T) {
	t.Parallel()
	live := []in.Event{created(hook)}
	removed := append(live, in.IntegrationRemoved{IntegrationID: "i1", RemovedAt: t0})
	newSecret := in.Sealed{KeyID: "k2", Ciphertext: "bmV3"}
	changed := hook
	changed.Name = "pager 2"
	for _, tt := range []struct {
		name    string
		given   []in.Event
		when    func(*in.Integration) ([]in.Event, error)
		then    domaintest.Then[in.Event]
		secret  in.Sealed
		checkIt bool
	}{
		{"rename, secret kept", live, func(i *in.Integration) ([]in.Event, error) { return i.Change(changed, in.Sealed{}, t0) },
			domaintest.Then[in.Event]{Events: []in.Event{in.IntegrationChanged{IntegrationID: "i1", Name: "pager 2", Config: hook.Config, EventKinds: hook.EventKinds, ChangedAt: t0}}}, sealed, true},
		{"new secret", live, func(i *in.Integration) ([]in.Event, error) { return i.Change(changed, newSecret, t0) },
			domaintest.Then[in.Event]{Events: []in.Event{in.IntegrationChanged{IntegrationID: "i1", Name: "pager 2", Config: hook.Config, EventKinds: hook.EventKinds, Secret: newSecret, ChangedAt: t0}}}, newSecret, true},
		{"the kind never changes", live, func(i *in.Integration) ([]in.Event, error) {
			s := changed
			s.Kind = in.KindChat
			return i.Change(s, in.Sealed{}, t0)
		}, domaintest.Then[in.Event]{Fields: []string{"kind"}}, in.Sealed{}, false},
		{"removed: no change", removed, func(i *in.Integration) ([]in.Event, error) { return i.Change(changed, in.Sealed{}, t0) },
			domaintest.Then[in.Event]{RuleCode: in.CodeIntegrationRemoved}, in.Sealed{}, false},
		{"removed twice", removed, func(i *in.Integration) ([]in.Event, error) { return i.Remove(t0) },
			domaintest.Then[in.Event]{RuleCode: in.CodeIntegrationRemoved}, in.Sealed{}, false},
		{"never created", nil, func(i *in.Integration) ([]in.Event, error) { return i.Remove(t0) },
			domaintest.Then[in.Event]{RuleCode: in.CodeNotCreated}, in.Sealed{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.when(in.RehydrateIntegration(tt.given...))
			domaintest.AssertOutcome(t, tt.then, got, err)
			if tt.checkIt {
				after := in.RehydrateIntegration(append(append([]in.Event{}, tt.given...), got...)...)
				if after.Secret != tt.secret {
					t.Errorf("secret after: %+v, want %+v", after.Secret, tt.secret)
				}
			}
		})
	}
}

func TestWizard(t *testing.T) {
	t.Parallel()
	start := []in.Event{in.WizardStarted{WizardID: "w", Kind: in.KindWebhook, Steps: in.Steps(in.KindWebhook), StartedAt: t0, ExpiresAt: t0.Add(in.WizardTTL)}}
	basics := in.WizardStepSaved{WizardID: "w", Step: "basics", Data: map[string]string{"name": "n"}, SavedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour + in.WizardTTL)}
	later := t0.Add(2 * time.Hour)
	full := append(append([]in.Event{}, start...), basics,
		in.WizardStepSaved{WizardID: "w", Step: "endpoint", Data: map[string]string{"url": "https://h.example"}, SavedAt: t0, ExpiresAt: t0.Add(time.Hour + in.WizardTTL)},
		in.WizardStepSaved{WizardID: "w", Step: "events", Data: map[string]string{"kinds": "sla_breached"}, SavedAt: t0, ExpiresAt: t0.Add(time.Hour + in.WizardTTL)})
	for _, tt := range []struct {
		name  string
		given []in.Event
		when  func(*in.Wizard) ([]in.Event, error)
		then  domaintest.Then[in.Event]
	}{
		{"a save pushes the expiry back", start, func(w *in.Wizard) ([]in.Event, error) {
			return w.SaveStep("basics", map[string]string{"name": "n"}, t0.Add(time.Hour))
		}, domaintest.Then[in.Event]{Events: []in.Event{basics}}},
		{"no such step", start, func(w *in.Wizard) ([]in.Event, error) { return w.SaveStep("payment", nil, later) },
			domaintest.Then[in.Event]{Fields: []string{"step"}}},
		{"never a secret", start, func(w *in.Wizard) ([]in.Event, error) {
			return w.SaveStep("endpoint", map[string]string{"signing_secret": "x"}, later)
		}, domaintest.Then[in.Event]{Fields: []string{"data.signing_secret"}}},
		{"past its expiry a save is refused", start, func(w *in.Wizard) ([]in.Event, error) {
			return w.SaveStep("basics", nil, t0.Add(in.WizardTTL))
		}, domaintest.Then[in.Event]{RuleCode: in.CodeWizardExpired}},
		{"not due", start, func(w *in.Wizard) ([]in.Event, error) { return w.Expire(later) },
			domaintest.Then[in.Event]{RuleCode: in.CodeWizardNotDue}},
		{"expired at its expiry", append(append([]in.Event{}, start...), basics), func(w *in.Wizard) ([]in.Event, error) {
			return w.Expire(t0.Add(48 * time.Hour))
		}, domaintest.Then[in.Event]{Events: []in.Event{in.WizardExpired{WizardID: "w", ExpiredAt: basics.ExpiresAt}}}},
		{"expired twice", append(append([]in.Event{}, start...), in.WizardExpired{WizardID: "w", ExpiredAt: t0}), func(w *in.Wizard) ([]in.Event, error) {
			return w.Expire(t0.Add(48 * time.Hour))
		}, domaintest.Then[in.Event]{RuleCode: in.CodeWizardExpired}},
		{"incomplete", start, func(w *in.Wizard) ([]in.Event, error) { return w.Complete("i", later) },
			domaintest.Then[in.Event]{RuleCode: in.CodeWizardIncomplete}},
		{"complete", full, func(w *in.Wizard) ([]in.Event, error) { return w.Complete("i", later) },
			domaintest.Then[in.Event]{Events: []in.Event{in.WizardCompleted{WizardID: "w", IntegrationID: "i", CompletedAt: later}}}},
		{"completed: no more saves", append(append([]in.Event{}, full...), in.WizardCompleted{WizardID: "w", IntegrationID: "i", CompletedAt: later}),
			func(w *in.Wizard) ([]in.Event, error) { return w.SaveStep("basics", nil, later) }, domaintest.Then[in.Event]{RuleCode: in.CodeWizardCompleted}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.when(in.RehydrateWizard(tt.given...))
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
	s := in.RehydrateWizard(full...).Spec()
	if s.Name != "n" || s.Config["url"] != "https://h.example" || len(s.EventKinds) != 1 || s.EventKinds[0] != in.EventSLABreach {
		t.Errorf("spec from the steps: %+v", s)
	}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	b := in.Backoff{Min: time.Second, Max: 8 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 10: 8 * time.Second} {
		if got := b.After(n); got != want {
			t.Errorf("backoff after %d failures: %s, want %s", n, got, want)
		}
	}
	id := in.DeliveryID("i1", "ev1")
	if id == in.DeliveryID("i1", "ev2") || id == in.DeliveryID("i2", "ev1") || id != in.DeliveryID("i1", "ev1") || in.DeliveryID("i1e", "v1") == in.DeliveryID("i1", "ev1") {
		t.Error("a delivery id is one per (integration, event)")
	}
	failed := in.WebhookDeliveryFailed{DeliveryID: id, IntegrationID: "i1", EventID: "ev1", Attempt: 1, StatusCode: 503, Error: "receiver answered 503", AttemptedAt: t0, NextAttemptAt: t0.Add(time.Second)}
	timeout := in.WebhookDeliveryFailed{DeliveryID: id, IntegrationID: "i1", EventID: "ev1", Attempt: 2, Error: "context deadline exceeded", AttemptedAt: t0, NextAttemptAt: t0.Add(2 * time.Second)}
	ok := in.WebhookDelivered{DeliveryID: id, IntegrationID: "i1", EventID: "ev1", Attempt: 2, StatusCode: 204, DeliveredAt: t0}
	for _, tt := range []struct {
		name    string
		given   []in.Event
		outcome in.Outcome
		then    domaintest.Then[in.Event]
	}{
		{"a 5xx is a failure, due after the backoff", nil, in.Outcome{StatusCode: 503}, domaintest.Then[in.Event]{Events: []in.Event{failed}}},
		{"a timeout is a failure", []in.Event{failed}, in.Outcome{Err: errors.New("context deadline exceeded")}, domaintest.Then[in.Event]{Events: []in.Event{timeout}}},
		{"a 2xx acknowledges", []in.Event{failed}, in.Outcome{StatusCode: 204}, domaintest.Then[in.Event]{Events: []in.Event{ok}}},
		{"a 3xx is no acknowledgement", nil, in.Outcome{StatusCode: 302}, domaintest.Then[in.Event]{Events: []in.Event{
			in.WebhookDeliveryFailed{DeliveryID: id, IntegrationID: "i1", EventID: "ev1", Attempt: 1, StatusCode: 302, Error: "receiver answered 302", AttemptedAt: t0, NextAttemptAt: t0.Add(time.Second)}}}},
		{"acknowledged: never again", []in.Event{failed, ok}, in.Outcome{StatusCode: 200}, domaintest.Then[in.Event]{RuleCode: in.CodeAlreadyDelivered}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.RehydrateDelivery(id, tt.given...).Record("i1", "ev1", tt.outcome, b, t0)
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	secret, body := []byte("whsec-test"), []byte(`{"a":1}`)
	sig := in.Sign(secret, 1767366000, body)
	// The value a receiver computes: HMAC-SHA256(secret, "1767366000." + body), hex.
	// (openssl dgst -sha256 -hmac whsec-test over the same bytes).
	if sig != "sha256=596c49b33e816d6278c20504c9aa63be7e51658e5d4739733b463a3671686872" {
		t.Fatalf("signature %s", sig)
	}
	if !in.Verify(secret, 1767366000, body, sig) {
		t.Error("a signature verifies")
	}
	for _, bad := range []struct {
		ts   int64
		body string
		key  string
	}{{1767366001, `{"a":1}`, "whsec-test"}, {1767366000, `{"a":2}`, "whsec-test"}, {1767366000, `{"a":1}`, "other"}} {
		if in.Verify([]byte(bad.key), bad.ts, []byte(bad.body), sig) {
			t.Errorf("%+v verifies", bad)
		}
	}
}
