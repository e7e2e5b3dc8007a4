package integrations

import (
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Kind is what an integration connects to.
type Kind string

// The integration kinds.
const (
	KindWebhook     Kind = "webhook"
	KindTicketing   Kind = "ticketing"
	KindChat        Kind = "chat"
	KindSIEM        Kind = "siem"
	KindCloud       Kind = "cloud_connection"
	maxConfigKeys        = 32
	maxConfigValue       = 2048
	MaxSecretLength      = 4096
	maxURL               = 2048
)

// Kinds lists the kinds in the order the API documents them.
var Kinds = []Kind{KindWebhook, KindTicketing, KindChat, KindSIEM, KindCloud}

// EventKind is what a webhook subscription listens to.
type EventKind string

// The webhook event kinds (docs/integrations.md maps each to the domain
// events that mean it).
const (
	EventCriticalFinding EventKind = "critical_finding_raised"
	EventKEVOccurrence   EventKind = "kev_occurrence_flagged"
	EventSLABreach       EventKind = "sla_breached"
	EventScanFailed      EventKind = "scan_run_failed"
)

// EventKinds lists the webhook event kinds.
var EventKinds = []EventKind{EventCriticalFinding, EventKEVOccurrence, EventSLABreach, EventScanFailed}

// Sealed is a secret encrypted outside the domain (AES-256-GCM by the
// command side's sealer): the ciphertext (nonce included, base64) and the
// id of the key that sealed it. It is all that events ever carry of a
// secret.
type Sealed struct {
	KeyID      string `json:"key_id"`
	Ciphertext string `json:"ciphertext"`
}

// IsZero reports no secret.
func (s Sealed) IsZero() bool { return s.Ciphertext == "" }

// Spec is what a person says an integration is.
type Spec struct {
	Name       string
	Kind       Kind
	Config     map[string]string
	EventKinds []EventKind // webhooks only
}

// secretLike are config keys that must go in the secret, never in config
// (config is stored and answered in clear).
var secretLike = []string{"secret", "password", "token", "api_key", "apikey", "private_key", "client_secret", "authorization"}

// IsSecretKey reports a config or wizard field name that names a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretLike {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func checkSpec(v *domain.Validator, s *Spec) {
	s.Name = strings.TrimSpace(s.Name)
	v.Check(s.Name != "", "name", "is required")
	v.Text("name", s.Name, domain.MaxShortText)
	v.Check(slices.Contains(Kinds, s.Kind), "kind", "must be one of webhook, ticketing, chat, siem, cloud_connection")
	v.Check(len(s.Config) <= maxConfigKeys, "config", "must have at most %d keys", maxConfigKeys)
	keys := make([]string, 0, len(s.Config))
	for k := range s.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := s.Config[k]
		v.Check(k != "" && len(k) <= 64, "config", "keys must be 1-64 bytes")
		v.Check(len(val) <= maxConfigValue, "config."+k, "must be at most %d bytes", maxConfigValue)
		v.Check(!IsSecretKey(k), "config."+k, "names a secret: give it as secret (stored encrypted), not in config")
	}
	if u, ok := s.Config["url"]; ok || s.Kind == KindWebhook {
		v.Check(ValidURL(u), "config.url", "must be an absolute http or https URL")
	}
	if s.Kind == KindWebhook {
		v.Check(len(s.EventKinds) > 0, "event_kinds", "is required for a webhook (one or more of %s)", kindList())
	} else {
		v.Check(len(s.EventKinds) == 0, "event_kinds", "is for webhooks only")
	}
	seen := map[EventKind]bool{}
	for _, k := range s.EventKinds {
		v.Check(slices.Contains(EventKinds, k), "event_kinds", "%q is not an event kind (%s)", k, kindList())
		v.Check(!seen[k], "event_kinds", "%q is listed twice", k)
		seen[k] = true
	}
	slices.Sort(s.EventKinds)
}

func kindList() string {
	out := make([]string, len(EventKinds))
	for i, k := range EventKinds {
		out[i] = string(k)
	}
	return strings.Join(out, ", ")
}

// ValidURL reports an absolute http(s) URL with a host.
func ValidURL(s string) bool {
	if s == "" || len(s) > maxURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// IntegrationCreated: the team has this integration from CreatedAt.
type IntegrationCreated struct {
	IntegrationID string            `json:"integration_id"`
	Name          string            `json:"name"`
	Kind          Kind              `json:"kind"`
	Config        map[string]string `json:"config,omitempty"`
	EventKinds    []EventKind       `json:"event_kinds,omitempty"`
	Secret        Sealed            `json:"secret,omitzero"`
	CreatedAt     time.Time         `json:"created_at"`
}

// IntegrationChanged: the integration's name, config and event kinds are
// these from ChangedAt; Secret, when set, replaces the secret.
type IntegrationChanged struct {
	IntegrationID string            `json:"integration_id"`
	Name          string            `json:"name"`
	Config        map[string]string `json:"config,omitempty"`
	EventKinds    []EventKind       `json:"event_kinds,omitempty"`
	Secret        Sealed            `json:"secret,omitzero"`
	ChangedAt     time.Time         `json:"changed_at"`
}

// IntegrationRemoved: the integration ended (its webhook deliveries stop).
type IntegrationRemoved struct {
	IntegrationID string    `json:"integration_id"`
	RemovedAt     time.Time `json:"removed_at"`
}

func (IntegrationCreated) EventType() string { return "IntegrationCreated" }
func (IntegrationChanged) EventType() string { return "IntegrationChanged" }
func (IntegrationRemoved) EventType() string { return "IntegrationRemoved" }

// Event is any event of this module.
type Event interface{ EventType() string }

// Rule codes.
const (
	CodeIntegrationRemoved = "INTEGRATION_REMOVED"
	CodeNotCreated         = "INTEGRATION_NOT_CREATED"
	// CodeNoEndpoint: a check of an integration without a url.
	CodeNoEndpoint = "INTEGRATION_NO_ENDPOINT"
)

// CreateIntegration decides the creation of an integration.
func CreateIntegration(id string, s Spec, secret Sealed, at time.Time) ([]Event, error) {
	var v domain.Validator
	checkSpec(&v, &s)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{IntegrationCreated{IntegrationID: id, Name: s.Name, Kind: s.Kind, Config: s.Config, EventKinds: s.EventKinds, Secret: secret, CreatedAt: at}}, nil
}

// Integration is the state the rules need.
type Integration struct {
	ID         string
	Name       string
	Kind       Kind
	Config     map[string]string
	EventKinds []EventKind
	Secret     Sealed
	Created    bool
	Removed    bool
}

// RehydrateIntegration folds an integration's history.
func RehydrateIntegration(history ...Event) *Integration {
	in := &Integration{}
	for _, e := range history {
		switch e := e.(type) {
		case IntegrationCreated:
			in.ID, in.Name, in.Kind, in.Config, in.EventKinds, in.Secret, in.Created = e.IntegrationID, e.Name, e.Kind, e.Config, e.EventKinds, e.Secret, true
		case IntegrationChanged:
			in.Name, in.Config, in.EventKinds = e.Name, e.Config, e.EventKinds
			if !e.Secret.IsZero() {
				in.Secret = e.Secret
			}
		case IntegrationRemoved:
			in.Removed = true
		}
	}
	return in
}

func (in *Integration) live() error {
	if !in.Created {
		return domain.Rule(CodeNotCreated, "the integration does not exist")
	}
	if in.Removed {
		return domain.Rule(CodeIntegrationRemoved, "the integration %s was removed", in.ID)
	}
	return nil
}

// Change decides new name, config and event kinds (the kind never
// changes); a non-zero secret replaces the secret.
func (in *Integration) Change(s Spec, secret Sealed, at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(s.Kind == "" || s.Kind == in.Kind, "kind", "cannot change (%s); create another integration", in.Kind)
	s.Kind = in.Kind
	checkSpec(&v, &s)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{IntegrationChanged{IntegrationID: in.ID, Name: s.Name, Config: s.Config, EventKinds: s.EventKinds, Secret: secret, ChangedAt: at}}, nil
}

// Remove decides the end of the integration.
func (in *Integration) Remove(at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	return []Event{IntegrationRemoved{IntegrationID: in.ID, RemovedAt: at}}, nil
}

// Usable is nil when the integration can be checked or delivered to.
func (in *Integration) Usable() error { return in.live() }

// Subscribes reports a webhook listening to k.
func (in *Integration) Subscribes(k EventKind) bool {
	return in.Kind == KindWebhook && slices.Contains(in.EventKinds, k)
}
