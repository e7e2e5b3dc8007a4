package orchestration

import "github.com/cspm-es/cspm-es/domain"

// MaxIDLength bounds caller-chosen ids, which become stream ids and URL segments.
const MaxIDLength = 128

// checkID records a problem with id unless it is 1 to MaxIDLength ASCII
// letters, digits, '-', '_' or '.'.
func checkID(v *domain.Validator, field, id string) {
	switch {
	case id == "":
		v.Add(field, "is required")
	case len(id) > MaxIDLength:
		v.Add(field, "must be at most %d characters", MaxIDLength)
	default:
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				v.Add(field, "may contain only letters, digits, '-', '_' and '.'")
				return
			}
		}
	}
}

// CheckScanID records a problem with a scan id another module names (an
// import completing a scan) under field, by the rule scan ids follow.
func CheckScanID(v *domain.Validator, field, id string) { checkID(v, field, id) }
