package trivy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

// parseTime reads Trivy's times: RFC 3339 with any fraction and any
// offset, returned in UTC. "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(field, "%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

func identifier(field, v string, limit int) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) > limit {
		return "", &fieldError{field: field, err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(v), limit)}
	}
	return v, nil
}

func severity(field, s string) (vuln.Severity, error) {
	if strings.TrimSpace(s) == "" {
		return vuln.SeverityUnknown, nil
	}
	sev, ok := vuln.ParseSeverity(s)
	if !ok {
		return "", invalid(field, "%q is not a Trivy severity (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)", s)
	}
	return sev, nil
}

// convertEmit converts one element listed under res and emits it.
func (p *parser) convertEmit(res Result, path string, kind ItemKind, raw any) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	it := Item{Kind: kind, Result: res}
	var err error
	switch v := raw.(type) {
	case *vulnerabilityJSON:
		it.Vulnerability, err = p.vulnerability(res, v)
	case *packageJSON:
		it.Package, err = packageOf(res, v)
		if err == nil {
			p.sum.Packages++
		}
	case *misconfigurationJSON:
		it.Misconfiguration, err = misconfigurationOf(res, v)
		if err == nil {
			p.sum.Misconfigurations++
			p.sum.MisconfigurationsByStatus[it.Misconfiguration.Status]++
			p.sum.MisconfigurationsBySev[it.Misconfiguration.Severity]++
		}
	case *secretJSON:
		it.Secret, err = secretOf(res, v)
		if err == nil {
			p.sum.Secrets++
			p.sum.SecretsBySev[it.Secret.Severity]++
		}
	}
	if err != nil {
		pe := &ParseError{Path: path, Offset: -1, Err: err}
		if fe, ok := err.(*fieldError); ok {
			pe.Field, pe.Err = fe.field, fe.err
		}
		return pe
	}
	return p.emit(it)
}

func pkgClass(res Result) vuln.PackageClass {
	if res.Class == string(vuln.ClassOS) {
		return vuln.ClassOS
	}
	return vuln.ClassLang
}

func (p *parser) vulnerability(res Result, v *vulnerabilityJSON) (*Vulnerability, error) {
	switch res.Class {
	case string(vuln.ClassOS), string(vuln.ClassLang):
	default:
		return nil, invalid("Class", "vulnerabilities listed under a %q result (Trivy lists them under os-pkgs and lang-pkgs)", res.Class)
	}
	id, err := identifier("VulnerabilityID", v.VulnerabilityID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, missing("VulnerabilityID")
	}
	name, err := identifier("PkgName", v.PkgName, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	pkgID, err := identifier("PkgID", v.PkgID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = pkgID
	}
	if name == "" {
		return nil, missing("PkgName")
	}
	installed, err := identifier("InstalledVersion", v.InstalledVersion, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	pkgPath, err := identifier("PkgPath", v.PkgPath, MaxPathBytes)
	if err != nil {
		return nil, err
	}
	typ, err := identifier("Type", res.Type, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	sev, err := severity("Severity", v.Severity)
	if err != nil {
		return nil, err
	}
	status, ok := vuln.ParseStatus(v.Status)
	if !ok {
		return nil, invalid("Status", "%q is not a Trivy status", v.Status)
	}
	rec := vuln.Record{
		ID: id, Aliases: v.VendorIDs, Title: v.Title, Description: v.Description, CWEs: v.CweIDs,
		References: v.References, PrimaryURL: strings.TrimSpace(v.PrimaryURL),
		Severity: sev, SeveritySource: strings.TrimSpace(v.SeveritySource),
	}
	if len(v.CVSS) > 0 {
		rec.CVSS = make(map[string]vuln.CVSS, len(v.CVSS))
		for src, c := range v.CVSS {
			rec.CVSS[src] = vuln.CVSS{V2Vector: c.V2Vector, V2Score: c.V2Score, V3Vector: c.V3Vector, V3Score: c.V3Score, V4Vector: c.V40Vector, V4Score: c.V40Score}
		}
	}
	if len(v.VendorSeverity) > 0 {
		rec.VendorSeverities = make(map[string]vuln.Severity, len(v.VendorSeverity))
		for src, level := range v.VendorSeverity {
			s, ok := vuln.SeverityOfVendorLevel(level)
			if !ok {
				return nil, invalid("VendorSeverity."+src, "%d is not a Trivy severity level (0-4)", level)
			}
			rec.VendorSeverities[src] = s
		}
	}
	if rec.PublishedAt, err = parseTime("PublishedDate", v.PublishedDate); err != nil {
		return nil, err
	}
	if rec.LastModifiedAt, err = parseTime("LastModifiedDate", v.LastModifiedDate); err != nil {
		return nil, err
	}
	rec.Normalize()
	layer := v.Layer.DiffID
	if layer == "" {
		layer = v.Layer.Digest
	}
	occ := vuln.Occurrence{
		VulnerabilityID: rec.ID,
		Package: vuln.Package{Class: pkgClass(res), Type: typ, Name: name, ID: pkgID, InstalledVersion: installed,
			PURL: strings.TrimSpace(v.PkgIdentifier.PURL), UID: strings.TrimSpace(v.PkgIdentifier.UID), Path: pkgPath, Target: res.Target},
		FixedVersions: vuln.SplitFixedVersions(v.FixedVersion), Status: status,
		Severity: sev, SeveritySource: rec.SeveritySource, Fingerprint: strings.TrimSpace(v.Fingerprint), Layer: layer,
	}
	if err := p.count(&occ); err != nil {
		return nil, err
	}
	return &Vulnerability{Record: rec, Occurrence: occ}, nil
}

// count adds an occurrence to the summary, within the distinct limits.
func (p *parser) count(o *vuln.Occurrence) error {
	if _, ok := p.ids[o.VulnerabilityID]; !ok {
		if len(p.ids) >= MaxDistinctVulnerabilities {
			return &fieldError{field: "VulnerabilityID", err: fmt.Errorf("%w: more than %d distinct vulnerabilities", ErrTooManyDistinct, MaxDistinctVulnerabilities)}
		}
		p.ids[o.VulnerabilityID] = struct{}{}
	}
	pk := o.Package
	key := strings.Join([]string{string(pk.Class), pk.Type, pk.Name, pk.InstalledVersion, pk.Location()}, "\x00")
	if _, ok := p.pkgs[key]; !ok {
		if len(p.pkgs) >= MaxDistinctPackages {
			return &fieldError{field: "PkgName", err: fmt.Errorf("%w: more than %d distinct packages", ErrTooManyDistinct, MaxDistinctPackages)}
		}
		p.pkgs[key] = struct{}{}
	}
	p.sum.Vulnerabilities++
	p.sum.VulnerabilitiesBySev[o.Severity]++
	p.sum.VulnerabilitiesByStatus[o.Status]++
	return nil
}

func packageOf(res Result, v *packageJSON) (*vuln.Package, error) {
	name, err := identifier("Name", v.Name, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, missing("Name")
	}
	version := strings.TrimSpace(v.Version)
	if v.Release != "" {
		version += "-" + strings.TrimSpace(v.Release)
	}
	if v.Epoch > 0 {
		version = strconv.Itoa(v.Epoch) + ":" + version
	}
	if _, err := identifier("Version", version, MaxIdentifierBytes); err != nil {
		return nil, err
	}
	id, err := identifier("ID", v.ID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	path, err := identifier("FilePath", v.FilePath, MaxPathBytes)
	if err != nil {
		return nil, err
	}
	return &vuln.Package{Class: pkgClass(res), Type: res.Type, Name: name, ID: id, InstalledVersion: version,
		PURL: strings.TrimSpace(v.Identifier.PURL), UID: strings.TrimSpace(v.Identifier.UID), Path: path, Target: res.Target}, nil
}

func misconfigurationOf(res Result, v *misconfigurationJSON) (*vuln.Misconfiguration, error) {
	id, err := identifier("ID", v.ID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	avd, err := identifier("AVDID", v.AVDID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	if id == "" && avd == "" {
		return nil, missing("ID")
	}
	if id == "" {
		id = avd
	}
	sev, err := severity("Severity", v.Severity)
	if err != nil {
		return nil, err
	}
	var status vuln.MisconfigStatus
	switch strings.ToUpper(strings.TrimSpace(v.Status)) {
	case "FAIL", "":
		status = vuln.MisconfigFail
	case "PASS":
		status = vuln.MisconfigPass
	case "EXCEPTION":
		status = vuln.MisconfigException
	default:
		return nil, invalid("Status", "%q is not FAIL, PASS or EXCEPTION", v.Status)
	}
	refs := make([]string, 0, len(v.References))
	for _, r := range v.References {
		if r = strings.TrimSpace(r); r != "" {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		refs = nil
	}
	return &vuln.Misconfiguration{
		ID: id, AVDID: avd, Type: v.Type, Title: v.Title, Description: v.Description, Message: v.Message,
		Resolution: v.Resolution, Severity: sev, Status: status, PrimaryURL: strings.TrimSpace(v.PrimaryURL), References: refs,
		Target: res.Target, ConfigType: res.Type, Resource: v.CauseMetadata.Resource, Provider: v.CauseMetadata.Provider,
		Service: v.CauseMetadata.Service, Cause: vuln.Location{StartLine: v.CauseMetadata.StartLine, EndLine: v.CauseMetadata.EndLine},
	}, nil
}

func secretOf(res Result, v *secretJSON) (*vuln.Secret, error) {
	rule, err := identifier("RuleID", v.RuleID, MaxIdentifierBytes)
	if err != nil {
		return nil, err
	}
	if rule == "" {
		return nil, missing("RuleID")
	}
	sev, err := severity("Severity", v.Severity)
	if err != nil {
		return nil, err
	}
	if v.StartLine < 0 || v.EndLine < 0 {
		return nil, invalid("StartLine", "negative line")
	}
	layer := v.Layer.DiffID
	if layer == "" {
		layer = v.Layer.Digest
	}
	return &vuln.Secret{RuleID: rule, Category: v.Category, Title: v.Title, Severity: sev, Target: res.Target,
		Location: vuln.Location{StartLine: v.StartLine, EndLine: v.EndLine}, Layer: layer}, nil
}

// legacyArtifact names the artifact of a legacy report from its OS
// result's target, "alpine:3.10 (alpine 3.10.2)": the image name and its OS.
func legacyArtifact(target, typ string) vuln.Artifact {
	a := vuln.Artifact{Kind: vuln.ArtifactImage, Name: strings.TrimSpace(target), OS: vuln.OS{Family: typ}}
	if i := strings.LastIndex(target, " ("); i > 0 && strings.HasSuffix(target, ")") {
		a.Name = strings.TrimSpace(target[:i])
		inner := target[i+2 : len(target)-1]
		if fam, ver, ok := strings.Cut(inner, " "); ok {
			a.OS = vuln.OS{Family: fam, Name: ver}
		}
	}
	return a
}
