package vulnerabilities

import (
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// SLA clocks (decision 56, docs/sla.md). A team's SLA policy gives the
// days to fix an open item per severity; KEV's dueDate overrides it for an
// occurrence of a KEV-listed CVE. The policy is one stream per team,
// "slapolicy-<team>", of SLAPolicySet events; a team that never set one
// has DefaultSLAPolicy.

// SLA modules: what a policy's per-module override applies to.
const (
	SLAModuleVulnerabilities = "vulnerabilities" // vulnerability occurrences (Trivy)
	SLAModuleCloudFindings   = "cloud_findings"  // imported cloud-security findings
)

// SLAModules lists the modules a policy can override.
var SLAModules = []string{SLAModuleVulnerabilities, SLAModuleCloudFindings}

// SLA severities: a vulnerability's "unknown" counts as informational.
const (
	SLACritical      = "critical"
	SLAHigh          = "high"
	SLAMedium        = "medium"
	SLALow           = "low"
	SLAInformational = "informational"
)

// SLASeverities lists the policy's severities, most severe first.
var SLASeverities = []string{SLACritical, SLAHigh, SLAMedium, SLALow, SLAInformational}

// MaxSLADays bounds a policy's days (ten years).
const MaxSLADays = 3650

// SLADays are the days to fix per severity; nil means no deadline.
type SLADays struct {
	Critical      *int `json:"critical"`
	High          *int `json:"high"`
	Medium        *int `json:"medium"`
	Low           *int `json:"low"`
	Informational *int `json:"informational"`
}

// For is the days of severity sev (SLASeverities, or a vulnerability's
// severity: "unknown" is informational); ok is false without a deadline.
func (d SLADays) For(sev string) (int, bool) {
	var p *int
	switch sev {
	case SLACritical:
		p = d.Critical
	case SLAHigh:
		p = d.High
	case SLAMedium:
		p = d.Medium
	case SLALow:
		p = d.Low
	default:
		p = d.Informational
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// SLAPolicy is a team's policy: Days for every module, Modules to override
// them for one module (keys of SLAModules).
type SLAPolicy struct {
	Days    SLADays            `json:"days"`
	Modules map[string]SLADays `json:"modules,omitempty"`
}

func days(n int) *int { return &n }

// DefaultSLAPolicy is the policy of a team that never set one: critical 7
// days, high 30, medium 90, low 180, informational none.
func DefaultSLAPolicy() SLAPolicy {
	return SLAPolicy{Days: SLADays{Critical: days(7), High: days(30), Medium: days(90), Low: days(180)}}
}

// DaysFor is the days to fix an item of module and severity; ok is false
// when the policy sets no deadline.
func (p SLAPolicy) DaysFor(module, sev string) (int, bool) {
	if m, ok := p.Modules[module]; ok {
		return m.For(sev)
	}
	return p.Days.For(sev)
}

// DueAt is the due date of an item of module and severity whose clock
// started at start, under the policy; ok is false without a deadline.
func (p SLAPolicy) DueAt(module, sev string, start time.Time) (time.Time, bool) {
	n, ok := p.DaysFor(module, sev)
	if !ok || start.IsZero() {
		return time.Time{}, false
	}
	return start.AddDate(0, 0, n), true
}

// Validate names every invalid field of the policy.
func (p SLAPolicy) Validate() error {
	var v domain.Validator
	check := func(prefix string, d SLADays) {
		for _, s := range SLASeverities {
			if n, ok := d.For(s); ok && (n < 1 || n > MaxSLADays) {
				v.Add(prefix+s, "days must be between 1 and %d (null: no deadline), not %d", MaxSLADays, n)
			}
		}
	}
	check("days.", p.Days)
	for m, d := range p.Modules {
		known := false
		for _, k := range SLAModules {
			known = known || k == m
		}
		if !known {
			v.Add("modules."+m, "unknown module (one of vulnerabilities, cloud_findings)")
			continue
		}
		check("modules."+m+".days.", d)
	}
	return v.Err()
}

// SLAPolicySet: the team's SLA policy is Policy from SetAt.
type SLAPolicySet struct {
	Policy SLAPolicy `json:"policy"`
	SetAt  time.Time `json:"set_at"`
}

func (SLAPolicySet) EventType() string { return "SLAPolicySet" }

// SLAPolicyOf is the policy a team's stream leaves in force (the default
// without events).
func SLAPolicyOf(history []SLAPolicySet) SLAPolicy {
	p := DefaultSLAPolicy()
	for _, e := range history {
		p = e.Policy
	}
	return p
}

// DecideSLAPolicy sets the policy at now: nothing when it is the one in
// force (a repeated PUT appends nothing).
func DecideSLAPolicy(history []SLAPolicySet, p SLAPolicy, now time.Time) ([]SLAPolicySet, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(p.Modules) == 0 {
		p.Modules = nil
	}
	if len(history) > 0 && samePolicy(SLAPolicyOf(history), p) {
		return nil, nil
	}
	return []SLAPolicySet{{Policy: p, SetAt: now}}, nil
}

func samePolicy(a, b SLAPolicy) bool {
	if !sameDays(a.Days, b.Days) || len(a.Modules) != len(b.Modules) {
		return false
	}
	for m, d := range a.Modules {
		o, ok := b.Modules[m]
		if !ok || !sameDays(d, o) {
			return false
		}
	}
	return true
}

func sameDays(a, b SLADays) bool {
	for _, s := range SLASeverities {
		x, okx := a.For(s)
		y, oky := b.For(s)
		if okx != oky || x != y {
			return false
		}
	}
	return true
}
