// Package integrations holds the integrations module's command handlers:
// integrations (secrets sealed before they reach an event), health checks,
// wizard sessions, webhook deliveries and SLA breaches
// (docs/integrations.md).
package integrations

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	in "github.com/cspm-es/cspm-es/domain/integrations"
)

// Sealer seals and opens secrets under a key outside the databases
// (platform/secretbox).
type Sealer interface {
	Seal(plain []byte) (keyID, ciphertext string, err error)
	Open(keyID, ciphertext string) ([]byte, error)
}

// Sender posts one webhook delivery and returns the receiver's status.
type Sender interface {
	Send(ctx context.Context, url string, headers map[string]string, body []byte) (status int, err error)
}

// Prober checks that an endpoint answers (a TCP connect).
type Prober interface {
	Probe(ctx context.Context, url string) error
}

// Handlers runs the integrations commands. It is safe for concurrent use.
type Handlers struct {
	kit    *commands.Kit
	sealer Sealer
	sender Sender
	prober Prober
	// elapsed measures an attempt's latency (a monotonic clock).
	elapsed func(start time.Time) time.Duration
	start   func() time.Time
	backoff in.Backoff
}

// New returns the handlers; it panics on a nil kit or sealer (a wiring
// mistake). sender and prober may be nil in processes that neither
// deliver nor check (then those commands fail).
func New(kit *commands.Kit, sealer Sealer, sender Sender, prober Prober) *Handlers {
	if kit == nil || sealer == nil {
		panic("integrations.New: nil kit or sealer")
	}
	return &Handlers{kit: kit, sealer: sealer, sender: sender, prober: prober, elapsed: time.Since, start: time.Now, backoff: in.DefaultBackoff}
}

// WithBackoff sets the retry rule of failed deliveries.
func (h *Handlers) WithBackoff(b in.Backoff) *Handlers {
	h.backoff = b
	return h
}

// Stream types and prefixes of the module.
const (
	StreamTypeIntegration = "Integration"
	StreamTypeHealth      = "IntegrationHealth"
	StreamTypeWizard      = "IntegrationWizard"
	StreamTypeDelivery    = "WebhookDelivery"
	StreamTypeSLABreach   = "SLABreach"
)

// IntegrationStreamID is the stream of an integration.
func IntegrationStreamID(id string) string { return "integration-" + id }

// HealthStreamID is the stream of an integration's checks of one UTC day.
func HealthStreamID(id, day string) string { return "integrationhealth-" + id + "-" + day }

// WizardStreamID is the stream of a wizard session.
func WizardStreamID(id string) string { return "wizard-" + id }

// DeliveryStreamID is the stream of a webhook delivery.
func DeliveryStreamID(id string) string { return "webhookdelivery-" + id }

// BreachStreamID is the stream of a recorded SLA breach.
func BreachStreamID(id string) string { return "slabreach-" + id }

// redact is what an idempotency fingerprint sees of a secret: whether
// one was given, nothing of its value (a fingerprint is stored, and a
// digest of a short secret could be searched).
func redact(secret *string) string {
	if secret == nil || *secret == "" {
		return ""
	}
	return "(given)"
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
