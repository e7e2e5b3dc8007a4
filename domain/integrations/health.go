package integrations

import (
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Health checks are events of their own streams, one per integration and
// UTC day ("integrationhealth-<id>-<yyyymmdd>"), so the integration's
// stream stays short however often it is checked.

// HealthResult is the outcome of one check.
type HealthResult string

// The results.
const (
	HealthUp   HealthResult = "up"
	HealthDown HealthResult = "down"
)

// MaxHealthError bounds a check's error text.
const MaxHealthError = 512

// IntegrationHealthChecked: the integration's endpoint was probed at
// CheckedAt.
type IntegrationHealthChecked struct {
	IntegrationID string       `json:"integration_id"`
	Result        HealthResult `json:"result"`
	LatencyMS     float64      `json:"latency_ms"`
	Error         string       `json:"error,omitempty"`
	Method        string       `json:"method"` // "tcp_connect"
	CheckedAt     time.Time    `json:"checked_at"`
}

func (IntegrationHealthChecked) EventType() string { return "IntegrationHealthChecked" }

// HealthDay is the day key of a check's stream.
func HealthDay(at time.Time) string { return at.UTC().Format("20060102") }

// RecordHealth decides one check's event: a failed probe (err) is down,
// with its error clipped; latency is never negative.
func RecordHealth(id, method string, latency time.Duration, probeErr error, at time.Time) []Event {
	e := IntegrationHealthChecked{IntegrationID: id, Result: HealthUp, LatencyMS: float64(max(latency, 0).Microseconds()) / 1000, Method: method, CheckedAt: at}
	if probeErr != nil {
		e.Result, e.Error = HealthDown, domain.Clip(probeErr.Error(), MaxHealthError)
	}
	return []Event{e}
}
