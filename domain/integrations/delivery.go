package integrations

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A webhook delivery is one event sent to one subscription (a webhook
// integration). Its id is a digest of the pair, so the same event is one
// delivery of a subscription however often it is derived (a rebuild, a
// redelivered bus message). Its stream ("webhookdelivery-<id>") records
// each attempt; the receiver's acknowledgement (a 2xx) is WebhookDelivered,
// after which the delivery is never attempted again.

// DeliveryID is the id of the delivery of event eventID to integration
// integrationID: "whd-" and 32 hex digits.
func DeliveryID(integrationID, eventID string) string {
	h := sha256.New()
	for _, p := range []string{integrationID, eventID} {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return "whd-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// The signature headers (docs/integrations.md, "Verifying a delivery").
const (
	HeaderSignature = "X-CSPM-Signature"  // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp = "X-CSPM-Timestamp"  // Unix seconds of the attempt
	HeaderDelivery  = "X-CSPM-Delivery"   // the delivery id (the receiver's de-duplication key)
	HeaderEventKind = "X-CSPM-Event-Kind" // critical_finding_raised...
)

// Sign is the X-CSPM-Signature value of body sent at timestamp (Unix
// seconds) under secret.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's at timestamp under secret
// (constant time).
func Verify(secret []byte, timestamp int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// Backoff is the retry rule: the pause after the n-th failed attempt is
// Min·2^(n-1), capped at Max. Deliveries are never dropped: a receiver
// down for a day gets them at most Max after it returns.
type Backoff struct{ Min, Max time.Duration }

// DefaultBackoff: 5s, 10s, 20s... capped at 5 minutes.
var DefaultBackoff = Backoff{Min: 5 * time.Second, Max: 5 * time.Minute}

// After is the pause after the attempt-th failure (attempt ≥ 1).
func (b Backoff) After(attempt int) time.Duration {
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// MaxDeliveryError bounds an attempt's error text.
const MaxDeliveryError = 512

// WebhookDeliveryFailed: an attempt failed (a non-2xx status, a timeout,
// a refused connection); the next is due at NextAttemptAt.
type WebhookDeliveryFailed struct {
	DeliveryID    string    `json:"delivery_id"`
	IntegrationID string    `json:"integration_id"`
	EventID       string    `json:"event_id"`
	Attempt       int       `json:"attempt"`
	StatusCode    int       `json:"status_code,omitempty"`
	Error         string    `json:"error"`
	LatencyMS     float64   `json:"latency_ms"`
	AttemptedAt   time.Time `json:"attempted_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// WebhookDelivered: the receiver acknowledged the delivery (2xx).
type WebhookDelivered struct {
	DeliveryID    string    `json:"delivery_id"`
	IntegrationID string    `json:"integration_id"`
	EventID       string    `json:"event_id"`
	Attempt       int       `json:"attempt"`
	StatusCode    int       `json:"status_code"`
	LatencyMS     float64   `json:"latency_ms"`
	DeliveredAt   time.Time `json:"delivered_at"`
}

func (WebhookDeliveryFailed) EventType() string { return "WebhookDeliveryFailed" }
func (WebhookDelivered) EventType() string      { return "WebhookDelivered" }

// CodeAlreadyDelivered: the receiver acknowledged the delivery already.
const CodeAlreadyDelivered = "WEBHOOK_ALREADY_DELIVERED"

// Delivery is a delivery's state.
type Delivery struct {
	ID        string
	Attempts  int
	Delivered bool
}

// RehydrateDelivery folds a delivery's history.
func RehydrateDelivery(id string, history ...Event) *Delivery {
	d := &Delivery{ID: id}
	for _, e := range history {
		switch e.(type) {
		case WebhookDeliveryFailed:
			d.Attempts++
		case WebhookDelivered:
			d.Attempts++
			d.Delivered = true
		}
	}
	return d
}

// CanAttempt is nil unless the receiver acknowledged the delivery.
func (d *Delivery) CanAttempt() error {
	if d.Delivered {
		return domain.Rule(CodeAlreadyDelivered, "the delivery %s was acknowledged", d.ID)
	}
	return nil
}

// Outcome is what one attempt gave.
type Outcome struct {
	StatusCode int
	Err        error // transport error (timeout, refused)
	Latency    time.Duration
}

// Acknowledged reports a 2xx answer.
func (o Outcome) Acknowledged() bool {
	return o.Err == nil && o.StatusCode >= 200 && o.StatusCode < 300
}

// Record decides an attempt's event.
func (d *Delivery) Record(integrationID, eventID string, o Outcome, b Backoff, at time.Time) ([]Event, error) {
	if err := d.CanAttempt(); err != nil {
		return nil, err
	}
	n := d.Attempts + 1
	ms := float64(max(o.Latency, 0).Microseconds()) / 1000
	if o.Acknowledged() {
		return []Event{WebhookDelivered{DeliveryID: d.ID, IntegrationID: integrationID, EventID: eventID, Attempt: n, StatusCode: o.StatusCode, LatencyMS: ms, DeliveredAt: at}}, nil
	}
	msg := "receiver answered " + strconv.Itoa(o.StatusCode)
	if o.Err != nil {
		msg = domain.Clip(o.Err.Error(), MaxDeliveryError)
	}
	return []Event{WebhookDeliveryFailed{DeliveryID: d.ID, IntegrationID: integrationID, EventID: eventID, Attempt: n, StatusCode: o.StatusCode,
		Error: msg, LatencyMS: ms, AttemptedAt: at, NextAttemptAt: at.Add(b.After(n))}}, nil
}
