package integrations

import (
	"slices"
	"sort"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A wizard session ("wizard-<id>") is the state of a multi-step setup of
// one integration: the steps of its kind, what each saved step holds
// (never a secret: the secret is given when the integration is created),
// and an expiry that every save pushes back. A session past its expiry is
// ended by a scheduled command (WizardExpired, in its history); a
// completed one names the integration it created.

// WizardTTL is how long a session lives after its last save.
const WizardTTL = 24 * time.Hour

// Steps lists the steps of a kind's wizard, in order.
func Steps(k Kind) []string {
	if k == KindWebhook {
		return []string{"basics", "endpoint", "events", "review"}
	}
	return []string{"basics", "connection", "review"}
}

// WizardStarted: a setup began.
type WizardStarted struct {
	WizardID  string    `json:"wizard_id"`
	Kind      Kind      `json:"kind"`
	Steps     []string  `json:"steps"`
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// WizardStepSaved: a step holds Data from SavedAt; the session now
// expires at ExpiresAt.
type WizardStepSaved struct {
	WizardID  string            `json:"wizard_id"`
	Step      string            `json:"step"`
	Data      map[string]string `json:"data"`
	SavedAt   time.Time         `json:"saved_at"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// WizardCompleted: the setup created the integration.
type WizardCompleted struct {
	WizardID      string    `json:"wizard_id"`
	IntegrationID string    `json:"integration_id"`
	CompletedAt   time.Time `json:"completed_at"`
}

// WizardExpired: the session lapsed unfinished (the expiry scheduler).
type WizardExpired struct {
	WizardID  string    `json:"wizard_id"`
	ExpiredAt time.Time `json:"expired_at"`
}

func (WizardStarted) EventType() string   { return "WizardStarted" }
func (WizardStepSaved) EventType() string { return "WizardStepSaved" }
func (WizardCompleted) EventType() string { return "WizardCompleted" }
func (WizardExpired) EventType() string   { return "WizardExpired" }

// Wizard rule codes.
const (
	CodeWizardNotStarted = "WIZARD_NOT_STARTED"
	CodeWizardExpired    = "WIZARD_EXPIRED"
	CodeWizardCompleted  = "WIZARD_COMPLETED"
	CodeWizardNotDue     = "WIZARD_NOT_EXPIRED"
	CodeWizardIncomplete = "WIZARD_INCOMPLETE"
)

// StartWizard decides a new session for kind.
func StartWizard(id string, k Kind, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(slices.Contains(Kinds, k), "kind", "must be one of webhook, ticketing, chat, siem, cloud_connection")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{WizardStarted{WizardID: id, Kind: k, Steps: Steps(k), StartedAt: at, ExpiresAt: at.Add(WizardTTL)}}, nil
}

// Wizard is a session's state.
type Wizard struct {
	ID            string
	Kind          Kind
	Steps         []string
	Data          map[string]map[string]string
	ExpiresAt     time.Time
	Started       bool
	Expired       bool
	IntegrationID string // set when completed
}

// RehydrateWizard folds a session's history.
func RehydrateWizard(history ...Event) *Wizard {
	w := &Wizard{Data: map[string]map[string]string{}}
	for _, e := range history {
		switch e := e.(type) {
		case WizardStarted:
			w.ID, w.Kind, w.Steps, w.ExpiresAt, w.Started = e.WizardID, e.Kind, e.Steps, e.ExpiresAt, true
		case WizardStepSaved:
			w.Data[e.Step], w.ExpiresAt = e.Data, e.ExpiresAt
		case WizardCompleted:
			w.IntegrationID = e.IntegrationID
		case WizardExpired:
			w.Expired = true
		}
	}
	return w
}

func (w *Wizard) open(at time.Time) error {
	switch {
	case !w.Started:
		return domain.Rule(CodeWizardNotStarted, "the wizard session does not exist")
	case w.IntegrationID != "":
		return domain.Rule(CodeWizardCompleted, "the wizard session is completed (integration %s)", w.IntegrationID)
	case w.Expired || !at.Before(w.ExpiresAt):
		return domain.Rule(CodeWizardExpired, "the wizard session expired at %s", w.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// SaveStep decides a step's data; it pushes the expiry back.
func (w *Wizard) SaveStep(step string, data map[string]string, at time.Time) ([]Event, error) {
	if err := w.open(at); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(slices.Contains(w.Steps, step), "step", "%q is not a step of the %s wizard (%v)", step, w.Kind, w.Steps)
	v.Check(len(data) <= maxConfigKeys, "data", "must have at most %d keys", maxConfigKeys)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Check(k != "" && len(k) <= 64, "data", "keys must be 1-64 bytes")
		v.Check(len(data[k]) <= maxConfigValue, "data."+k, "must be at most %d bytes", maxConfigValue)
		v.Check(!IsSecretKey(k), "data."+k, "names a secret: a wizard never stores one; give it when the integration is created")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]string{}
	}
	return []Event{WizardStepSaved{WizardID: w.ID, Step: step, Data: data, SavedAt: at, ExpiresAt: at.Add(WizardTTL)}}, nil
}

// Complete decides the end of a session that created integrationID; every
// step but the last (review) must have been saved.
func (w *Wizard) Complete(integrationID string, at time.Time) ([]Event, error) {
	if err := w.open(at); err != nil {
		return nil, err
	}
	for _, s := range w.Steps[:len(w.Steps)-1] {
		if _, ok := w.Data[s]; !ok {
			return nil, domain.Rule(CodeWizardIncomplete, "the step %q is not saved", s)
		}
	}
	return []Event{WizardCompleted{WizardID: w.ID, IntegrationID: integrationID, CompletedAt: at}}, nil
}

// Expire decides the end of a session whose expiry has passed.
func (w *Wizard) Expire(at time.Time) ([]Event, error) {
	switch {
	case !w.Started:
		return nil, domain.Rule(CodeWizardNotStarted, "the wizard session does not exist")
	case w.IntegrationID != "":
		return nil, domain.Rule(CodeWizardCompleted, "the wizard session is completed")
	case w.Expired:
		return nil, domain.Rule(CodeWizardExpired, "the wizard session has expired")
	case at.Before(w.ExpiresAt):
		return nil, domain.Rule(CodeWizardNotDue, "the wizard session expires at %s", w.ExpiresAt.Format(time.RFC3339))
	}
	return []Event{WizardExpired{WizardID: w.ID, ExpiredAt: w.ExpiresAt}}, nil
}

// Spec is the integration the saved steps describe: name from basics,
// config from the endpoint/connection step (url and any other keys),
// event kinds from events ("kinds": comma-separated).
func (w *Wizard) Spec() Spec {
	s := Spec{Kind: w.Kind, Name: w.Data["basics"]["name"], Config: map[string]string{}}
	for _, step := range []string{"endpoint", "connection"} {
		for k, v := range w.Data[step] {
			s.Config[k] = v
		}
	}
	if ks := w.Data["events"]["kinds"]; ks != "" {
		for _, k := range splitComma(ks) {
			s.EventKinds = append(s.EventKinds, EventKind(k))
		}
	}
	return s
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if p := trim(s[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	return out
}

func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
