package cloudsecurity

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A finding's identity is stable across scans and re-imports: it is what a
// versioned, per-tool identity rule keeps of an observation. Prowler's own
// finding uid is not used (it collides for placeholder resources and
// changes across a fix). Identities and scopes are per team: the same
// account scanned by two teams gives two findings, one in each team.
//
// Changing a rule means a new rule version; findings are derived from the
// recorded observations by the projections, so adopting it is a rebuild of
// those projections (a replay), never a rewrite of stored events.

// IdentityRule names a rule: "<tool>/v<version>".
type IdentityRule string

// The identity rules, one current rule per tool.
const (
	// IdentityProwlerV1: provider, account, region, check and resource uid
	// (the ARN or resource id). The region is where Prowler evaluated the
	// check (the report's cloud region), which is also the region of its
	// scope.
	IdentityProwlerV1 IdentityRule = "prowler/v1"
	// IdentityProbeV1: the worker's built-in checks (cspm-probe-json):
	// provider (web, tls), account (the normalized target: a URL, or
	// host:port), check, and resource (the target; "cookie:<name>" for
	// the cookie checks). Region is "".
	IdentityProbeV1 IdentityRule = "cspm-probe/v1"
)

// identityRules maps a tool to its current rule.
var identityRules = map[string]IdentityRule{
	"prowler":    IdentityProwlerV1,
	"cspm-probe": IdentityProbeV1,
}

// RuleFor returns the current identity rule of tool; ok is false when the
// tool has none.
func RuleFor(tool string) (IdentityRule, bool) {
	r, ok := identityRules[strings.ToLower(tool)]
	return r, ok
}

// Scope is what one evaluation of a check covers: a check in a region of
// an account. A completed scan that evaluated a scope can fix the findings
// in it; nothing outside what it evaluated.
type Scope struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Check    string `json:"check"`
}

// Identity is a finding's key under a rule: its scope and resource.
type Identity struct {
	Rule IdentityRule `json:"rule"`
	Scope
	Resource string `json:"resource"`
}

// IdentityOf applies rule to an observation.
func IdentityOf(rule IdentityRule, o Observation) (Identity, error) {
	switch rule {
	case IdentityProwlerV1, IdentityProbeV1, IdentityNucleiV1, IdentityZAPV1, IdentityTestsslV1, IdentitySSLyzeV1:
		resource := o.ResourceUID
		if resource == "" {
			resource = o.ResourceName
		}
		id := Identity{Rule: rule, Scope: Scope{Provider: o.Provider, Account: o.AccountUID, Region: o.Region, Check: o.CheckID}, Resource: resource}
		switch {
		case id.Account == "":
			return Identity{}, fmt.Errorf("identity %s: the observation names no account", rule)
		case id.Check == "":
			return Identity{}, fmt.Errorf("identity %s: the observation names no check", rule)
		case id.Resource == "":
			return Identity{}, fmt.Errorf("identity %s: the observation names no resource", rule)
		}
		return id, nil
	}
	return Identity{}, fmt.Errorf("unknown identity rule %q", rule)
}

// ImportedFindingPrefix starts the id of every finding an import
// revealed (ids of findings raised through the API are the caller's).
const ImportedFindingPrefix = "fnd-"

// IsImportedFinding reports an id of a finding an import revealed.
func IsImportedFinding(id string) bool { return strings.HasPrefix(id, ImportedFindingPrefix) }

// FindingID is the id of the finding with this identity in team: "fnd-"
// and 32 hex digits of a sha256 over the team and the identity.
func (id Identity) FindingID(team string) string {
	return ImportedFindingPrefix + digest(team, string(id.Rule), id.Provider, id.Account, id.Region, id.Check, id.Resource)
}

// ID is the id of the scope in team: "scp-" and 32 hex digits.
func (s Scope) ID(team string) string {
	return "scp-" + digest(team, s.Provider, s.Account, s.Region, s.Check)
}

// digest hashes length-prefixed parts, so no two lists share an encoding.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
