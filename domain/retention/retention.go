// Package retention decides the retention policies (docs/archival.md,
// decision 88): per module, how many days its data stays in the live
// store before the retention cycle archives its events. A policy is a
// stream of RetentionPolicySet events, one stream per module; the latest
// event is the policy in force, the earlier ones its audited history.
package retention

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// StreamType is the stream type of a module's policy stream.
const StreamType = "RetentionPolicy"

// streamPrefix starts every policy stream id.
const streamPrefix = "retention-policy-"

// StreamID is the id of module's policy stream.
func StreamID(module string) string { return streamPrefix + module }

// StreamPrefix starts every policy stream id (to list them).
const StreamPrefix = streamPrefix

// Limits of a policy.
const (
	// DefaultDays is the retention of a module that has no policy yet.
	DefaultDays = 180
	// MinDays is the shortest retention a policy may set (a month).
	MinDays = 30
	// MaxDays is the longest finite retention (ten years).
	MaxDays = 3650
	// KeepForever (0 days) keeps the module's events live: while any
	// policy says so, no event leaves the live store.
	KeepForever = 0
	// MaxReasonLength bounds a policy's reason (characters).
	MaxReasonLength = 500
)

// Module is a module retention policies apply to, and what counts as its
// data: the stream types of its events and the read-model collections
// whose documents expire (their TTL indexes).
type Module struct {
	Name        string   `json:"module"`
	Description string   `json:"description"`
	StreamTypes []string `json:"stream_types"`
}

// Modules are the modules a policy can be set for. Scan results are the
// outputs of scans and imports: scan runs and their jobs, tool imports
// (the result chunks), vulnerability scan imports, KEV catalogue imports
// and integration probe reports. Never in a module: the policies
// themselves, API keys, and audit-relevant configuration (accounts,
// muting rules, SLA policies, risk matrices, integrations' settings):
// they have no retention of their own.
var Modules = []Module{
	{Name: "scan-results", Description: "scan runs and jobs, tool imports, vulnerability scan imports, KEV imports, integration probe reports",
		StreamTypes: []string{"ScanRun", "Import", "VulnerabilityScanImport", "KEVImport", "IntegrationHealth"}},
	{Name: "webhook-deliveries", Description: "outbound webhook delivery attempts",
		StreamTypes: []string{"WebhookDelivery"}},
}

// ModuleNamed returns the module called name.
func ModuleNamed(name string) (Module, bool) {
	i := slices.IndexFunc(Modules, func(m Module) bool { return m.Name == name })
	if i < 0 {
		return Module{}, false
	}
	return Modules[i], true
}

func moduleNames() string {
	names := make([]string, len(Modules))
	for i, m := range Modules {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// RetentionPolicySet: a module's retention was set (the latest wins).
// Days 0 keeps the module's events live for ever.
type RetentionPolicySet struct {
	Module string    `json:"module"`
	Days   int       `json:"days"`
	Reason string    `json:"reason,omitempty"`
	SetAt  time.Time `json:"set_at"`
}

// EventType is the stored type name.
func (RetentionPolicySet) EventType() string { return "RetentionPolicySet" }

// SetRequest is what setting a policy decides on.
type SetRequest struct {
	Module string
	Days   int
	Reason string
	SetAt  time.Time
}

// Set decides a policy: RetentionPolicySet, nothing when the policy in
// force (current, nil for none) already says the same, or a
// *domain.ValidationError naming module, days or reason.
func Set(current *RetentionPolicySet, r SetRequest) ([]RetentionPolicySet, error) {
	var v domain.Validator
	_, known := ModuleNamed(r.Module)
	v.Check(known, "module", "must be one of %s", moduleNames())
	v.Check(r.Days == KeepForever || (r.Days >= MinDays && r.Days <= MaxDays), "days",
		"must be 0 (keep live for ever) or between %d and %d", MinDays, MaxDays)
	reason := strings.TrimSpace(r.Reason)
	v.Text("reason", reason, MaxReasonLength)
	v.Check(!r.SetAt.IsZero(), "set_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if current != nil && current.Days == r.Days {
		return nil, nil
	}
	return []RetentionPolicySet{{Module: r.Module, Days: r.Days, Reason: reason, SetAt: r.SetAt}}, nil
}

// Policy is a module's policy in force.
type Policy struct {
	Module  string     `json:"module"`
	Days    int        `json:"days"`
	Default bool       `json:"default"` // no policy was set: DefaultDays
	Reason  string     `json:"reason,omitempty"`
	SetAt   *time.Time `json:"set_at,omitempty"`
	SetBy   string     `json:"set_by,omitempty"`
}

// Cutoff is the instant before which events may leave the live store at
// now under policies (decision 90): the log leaves in a prefix, so the
// longest retention governs; ok is false when a policy keeps its module
// live for ever (nothing leaves).
func Cutoff(policies []Policy, now time.Time) (cutoff time.Time, ok bool) {
	longest := 0
	for _, p := range policies {
		if p.Days == KeepForever {
			return time.Time{}, false
		}
		longest = max(longest, p.Days)
	}
	if longest == 0 {
		longest = DefaultDays
	}
	return now.Add(-time.Duration(longest) * 24 * time.Hour), true
}
