package vulnerabilities

import (
	"strings"
)

// PackageClass says where a package comes from (Trivy Result.Class).
type PackageClass string

const (
	// ClassOS: a distribution's package (Trivy os-pkgs).
	ClassOS PackageClass = "os-pkgs"
	// ClassLang: a language ecosystem's package (Trivy lang-pkgs: jar,
	// pip, npm, gobinary...).
	ClassLang PackageClass = "lang-pkgs"
)

// Package is a package installed in an artifact.
type Package struct {
	Class PackageClass `json:"class"`
	// Type is the ecosystem or distribution (alpine, debian, jar, pip,
	// gobinary...: Trivy Result.Type).
	Type string `json:"type"`
	Name string `json:"name"`
	// ID is the scanner's package id (Trivy PkgID, e.g. "bash@4.4-5"),
	// when given.
	ID               string `json:"id,omitempty"`
	InstalledVersion string `json:"installed_version"`
	// PURL and UID (Trivy PkgIdentifier), when given (newer Trivy only).
	PURL string `json:"purl,omitempty"`
	UID  string `json:"uid,omitempty"`
	// Path is the file the package was found in (lang-pkgs: the jar, the
	// lock file); Target is the report's result target it was listed under.
	Path   string `json:"path,omitempty"`
	Target string `json:"target"`
}

// Location is where in the artifact the package lives, as the identity
// rule keys it: "" for an OS package (the distribution; Trivy's os-pkgs
// target embeds the artifact's name, which changes between a scan by tag
// and one of a tarball of the same image), the package's Path when given,
// else its Target (older Trivy put a jar's path in the target, newer put
// "Java" there and the path in PkgPath).
func (p Package) Location() string {
	if p.Class == ClassOS {
		return ""
	}
	if p.Path != "" {
		return p.Path
	}
	return p.Target
}

// Status is what the vendor says about a vulnerability in a package (Trivy
// Status, newer versions only).
type Status string

const (
	StatusUnknown            Status = "unknown"
	StatusNotAffected        Status = "not_affected"
	StatusAffected           Status = "affected"
	StatusFixed              Status = "fixed"
	StatusUnderInvestigation Status = "under_investigation"
	StatusWillNotFix         Status = "will_not_fix"
	StatusFixDeferred        Status = "fix_deferred"
	StatusEndOfLife          Status = "end_of_life"
)

var statuses = []Status{StatusUnknown, StatusNotAffected, StatusAffected, StatusFixed, StatusUnderInvestigation, StatusWillNotFix, StatusFixDeferred, StatusEndOfLife}

// ParseStatus maps s (any case; "" is no status) to a Status; ok is false
// for an unknown value.
func ParseStatus(s string) (Status, bool) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if st == "" {
		return "", true
	}
	for _, known := range statuses {
		if st == known {
			return st, true
		}
	}
	return "", false
}

// SplitFixedVersions splits Trivy's FixedVersion, which lists one fixed
// version per branch separated by commas ("11.0.14, 10.1.49, 9.0.112"),
// keeping the report's order without repeats or empty items.
func SplitFixedVersions(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		dup := false
		for _, w := range out {
			dup = dup || w == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// Occurrence is one vulnerability in one installed package of an
// artifact, as one report says it.
type Occurrence struct {
	VulnerabilityID string  `json:"vulnerability_id"`
	Package         Package `json:"package"`
	// FixedVersions: the versions that fix it, one per branch; none when
	// no fix is known.
	FixedVersions []string `json:"fixed_versions,omitempty"`
	// Status when the report gives one ("" for older Trivy).
	Status Status `json:"status,omitempty"`
	// Severity and its source, as the report rated it for this package
	// (the catalog record holds the same; a distribution can rate one CVE
	// differently in two artifacts).
	Severity       Severity `json:"severity"`
	SeveritySource string   `json:"severity_source,omitempty"`
	// Fingerprint is Trivy's own per-finding hash (newer versions):
	// recorded, not used as identity (it changes with Trivy's inputs).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Layer is the image layer (diff id) that brought the package, when
	// given.
	Layer string `json:"layer,omitempty"`
}

// FixAvailable reports a known fixed version.
func (o Occurrence) FixAvailable() bool { return len(o.FixedVersions) > 0 }
