package vulnerabilities

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// An occurrence's identity is stable across scans of the same artifact and
// across scanner versions: it is what a versioned identity rule keeps of an
// occurrence. Trivy's Fingerprint and PkgIdentifier.UID are recorded, not
// used (they are absent from older reports and change with Trivy's
// inputs). Changing a rule means a new rule version, adopted by rebuilding
// the projections (never by rewriting events), as for
// domain/cloudsecurity's finding identity rule.

// IdentityRule names a rule: "<tool>/v<version>".
type IdentityRule string

// IdentityTrivyV1: artifact (its identity, decision 46), package class,
// type and name, installed version, location (Package.Location: "" for OS
// packages, the file for language packages), and the vulnerability id.
// The same CVE on two packages is two occurrences; the same package at two
// paths is two; a package upgraded to a still-vulnerable version is a new
// occurrence (and the old one is fixed by the scan that no longer sees
// it).
const IdentityTrivyV1 IdentityRule = "trivy/v1"

// OccurrenceIdentity is an occurrence's key under a rule.
type OccurrenceIdentity struct {
	Rule             IdentityRule     `json:"rule"`
	Artifact         ArtifactIdentity `json:"artifact"`
	Class            PackageClass     `json:"class"`
	Type             string           `json:"type"`
	Package          string           `json:"package"`
	InstalledVersion string           `json:"installed_version"`
	Location         string           `json:"location"`
	VulnerabilityID  string           `json:"vulnerability_id"`
}

// OccurrenceIdentityOf applies rule to an occurrence found in artifact.
func OccurrenceIdentityOf(rule IdentityRule, artifact ArtifactIdentity, o Occurrence) (OccurrenceIdentity, error) {
	if rule != IdentityTrivyV1 {
		return OccurrenceIdentity{}, fmt.Errorf("unknown identity rule %q", rule)
	}
	id := OccurrenceIdentity{
		Rule: rule, Artifact: artifact,
		Class: o.Package.Class, Type: o.Package.Type, Package: o.Package.Name,
		InstalledVersion: o.Package.InstalledVersion, Location: o.Package.Location(),
		VulnerabilityID: NormalizeID(o.VulnerabilityID),
	}
	switch {
	case artifact.Key == "":
		return OccurrenceIdentity{}, fmt.Errorf("identity %s: no artifact", rule)
	case id.Package == "":
		return OccurrenceIdentity{}, fmt.Errorf("identity %s: the occurrence names no package", rule)
	case id.VulnerabilityID == "":
		return OccurrenceIdentity{}, fmt.Errorf("identity %s: the occurrence names no vulnerability", rule)
	}
	return id, nil
}

// InScopeOf is the scope rule: a scan of an artifact can fix only that
// artifact's occurrences (a scan of the image a tag moved to fixes nothing
// on the image the tag left).
func (id OccurrenceIdentity) InScopeOf(scanned ArtifactIdentity) bool {
	return id.Artifact.Kind == scanned.Kind && id.Artifact.Key == scanned.Key
}

// OccurrencePrefix starts every occurrence id.
const OccurrencePrefix = "occ-"

// OccurrenceID is the id of the occurrence with this identity in team:
// "occ-" and 32 hex digits of a sha256 over the team and the identity.
// Occurrences are team-private: the same image scanned by two teams gives
// two occurrences.
func (id OccurrenceIdentity) OccurrenceID(team string) string {
	return OccurrencePrefix + digest(team, string(id.Rule), string(id.Artifact.Kind), id.Artifact.Key,
		string(id.Class), id.Type, id.Package, id.InstalledVersion, id.Location, id.VulnerabilityID)
}

// MisconfigurationKey keys a misconfiguration in an artifact: the file,
// the check (AVD id when given, else id) and the cause's first line (a
// check failing twice in one file is two findings).
func MisconfigurationKey(team string, artifact ArtifactIdentity, m Misconfiguration) string {
	check := m.AVDID
	if check == "" {
		check = m.ID
	}
	return "mis-" + digest(team, string(IdentityTrivyV1), string(artifact.Kind), artifact.Key, m.Target, check, strconv.Itoa(m.Cause.StartLine))
}

// SecretKey keys a secret finding in an artifact: the file, the rule and
// the first line.
func SecretKey(team string, artifact ArtifactIdentity, s Secret) string {
	return "sec-" + digest(team, string(IdentityTrivyV1), string(artifact.Kind), artifact.Key, s.Target, s.RuleID, strconv.Itoa(s.Location.StartLine))
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
