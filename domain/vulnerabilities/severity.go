package vulnerabilities

import "strings"

// Severity ranks a vulnerability, misconfiguration or secret: a closed set,
// stored in lower case. Trivy's UNKNOWN is its own value ("unknown"), not
// a missing one.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityUnknown  Severity = "unknown"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityUnknown}

// ParseSeverity maps s (any case, surrounding space ignored) to a Severity;
// ok is false when s names none. "" is not a severity.
func ParseSeverity(s string) (Severity, bool) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Severities {
		if sev == known {
			return sev, true
		}
	}
	return "", false
}

// SeverityOfVendorLevel maps a vendor severity level as Trivy writes it
// (VendorSeverity: 0 unknown, 1 low, 2 medium, 3 high, 4 critical); ok is
// false for another number.
func SeverityOfVendorLevel(level int) (Severity, bool) {
	switch level {
	case 0:
		return SeverityUnknown, true
	case 1:
		return SeverityLow, true
	case 2:
		return SeverityMedium, true
	case 3:
		return SeverityHigh, true
	case 4:
		return SeverityCritical, true
	}
	return "", false
}

// Rank orders severities: critical 4 ... low 1, unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}
