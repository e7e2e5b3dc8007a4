package cloudsecurity

import "strings"

// Severity ranks a finding: a closed set, stored in lower case.
type Severity string

const (
	SeverityCritical      Severity = "critical"
	SeverityHigh          Severity = "high"
	SeverityMedium        Severity = "medium"
	SeverityLow           Severity = "low"
	SeverityInformational Severity = "informational"
)

var severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInformational}

// ParseSeverity maps s (any case, surrounding space ignored) to a Severity;
// ok is false when s names none.
func ParseSeverity(s string) (sev Severity, ok bool) {
	sev = Severity(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range severities {
		if sev == known {
			return sev, true
		}
	}
	return "", false
}
