package cloudsecurity

import "time"

// Native security scanners (Nuclei, OWASP ZAP, testssl.sh, SSLyze) report
// on targets (a site, a host:port), not on cloud accounts. Their results
// are observations like Prowler's (docs/security-scans.md, decisions
// 58-60): provider "web" or "tls", account = the target, region "",
// check = the tool's check, resource = what the identity rule keeps of
// where it was found. The parsers (platform/parsers/<tool>) normalise the
// resource, so the rule's fields are the result's fields.

// Providers of native scanner results.
const (
	ProviderWeb = "web" // Nuclei, ZAP: a site or host
	ProviderTLS = "tls" // testssl.sh, SSLyze: a host:port
)

// Identity rules of the native scanners (decision 58). Each keeps
// provider, target (account), check and resource, as prowler/v1 does; the
// parser of the tool builds the resource so that:
const (
	// IdentityNucleiV1: template id (with the matcher name,
	// "template:matcher", as the check) and matched-at normalised (scheme
	// and host lower case, default port dropped, "/" for an empty path;
	// host:port lower case), on the target host.
	IdentityNucleiV1 IdentityRule = "nuclei/v1"
	// IdentityZAPV1: plugin id as the check; resource = method (upper
	// case), URI (scheme and host lower case, default port dropped) and
	// parameter, lower case (ZAP's upgrades changed parameters' case), on
	// the site. alertRef and the alert's name are attributes.
	IdentityZAPV1 IdentityRule = "zap/v1"
	// IdentityTestsslV1: check id (testssl's id without its "<cert#N>"
	// suffix, which moves to the resource) on host/ip:port.
	IdentityTestsslV1 IdentityRule = "testssl/v1"
	// IdentitySSLyzeV1: check (the rule name of decision 58) on
	// host:port (the server location).
	IdentitySSLyzeV1 IdentityRule = "sslyze/v1"
)

func init() {
	identityRules["nuclei"] = IdentityNucleiV1
	identityRules["zap"] = IdentityZAPV1
	identityRules["testssl"] = IdentityTestsslV1
	identityRules["sslyze"] = IdentitySSLyzeV1
}

// AllChecks in an EvaluatedScope's checks means every check: the scan
// evaluated the whole target (decision 59).
const AllChecks = "*"

// EvaluatesWholeTarget reports a rule whose tools report only what they
// found (Nuclei, ZAP): a completed report of a target evaluated every check
// on that target, so a finding not reported again is fixed (decision 59).
// The other tools evaluate the checks they report, passes included.
func EvaluatesWholeTarget(rule IdentityRule) bool {
	return rule == IdentityNucleiV1 || rule == IdentityZAPV1
}

// WholeTargets rewrites scopes for such a rule: every account evaluated
// every check (AllChecks). Others are returned as they are.
func WholeTargets(rule IdentityRule, scopes []EvaluatedScope) []EvaluatedScope {
	if !EvaluatesWholeTarget(rule) {
		return scopes
	}
	out := make([]EvaluatedScope, len(scopes))
	for i, s := range scopes {
		s.Checks = []string{AllChecks}
		out[i] = s
	}
	return out
}

// ScanProblem is something that went wrong in a scan, as its report says
// (an unreachable host, a testssl FATAL or WARN row, an SSLyze connectivity
// error or a command that errored). It is recorded on the import
// (ImportCompleted.Problems) and fixes nothing: a check with a problem is
// not evaluated.
type ScanProblem struct {
	Target  string `json:"target,omitempty"`
	Check   string `json:"check,omitempty"`
	Level   string `json:"level,omitempty"` // the tool's word: FATAL, WARN, ERROR...
	Message string `json:"message"`
}

// MaxScanProblems bounds the problems one import records; more are counted.
const MaxScanProblems = 100

// IsNativeScannerRule reports the rules of the native scanners.
func IsNativeScannerRule(rule IdentityRule) bool {
	switch rule {
	case IdentityNucleiV1, IdentityZAPV1, IdentityTestsslV1, IdentitySSLyzeV1:
		return true
	}
	return false
}

// CertificateSeen is a TLS certificate a scanner reported on a target
// (testssl.sh's cert_notAfter rows, SSLyze's certificate deployments):
// its validity, for the clock to judge later (decision 60).
type CertificateSeen struct {
	Target            string    `json:"target"` // host:port
	Cert              string    `json:"cert"`   // "cert1": the scanner's certificate or deployment number
	Subject           string    `json:"subject,omitempty"`
	NotBefore         time.Time `json:"not_before,omitzero"`
	NotAfter          time.Time `json:"not_after"`
	FingerprintSHA256 string    `json:"fingerprint_sha256,omitempty"` // hex
}

// CertificatesObserved: the certificates a native scanner's report
// showed, at the import's evaluation time; appended with the import's
// other events (before ImportCompleted) when the report names any.
type CertificatesObserved struct {
	ImportID     string            `json:"import_id"`
	ScanID       string            `json:"scan_id"`
	Tool         string            `json:"tool"`
	EvaluatedAt  time.Time         `json:"evaluated_at"`
	Certificates []CertificateSeen `json:"certificates"`
}

func (CertificatesObserved) EventType() string { return "CertificatesObserved" }

// MaxCertificates bounds the certificates one import records.
const MaxCertificates = 1000
