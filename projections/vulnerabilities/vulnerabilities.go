// Package vulnerabilities projects the vulnerabilities module's events
// into cspm_vulnerabilities: the vulnerability catalog (public: one entry
// per id), each team's occurrences with their lifecycle (new, fixed,
// reopened: the lifecycle fold of domain/cloudsecurity, whose scope here
// is the artifact), each team's artifacts (images with their digests,
// tags, OS and open counts) and their scan timelines
// (docs/vulnerabilities.md).
package vulnerabilities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Name of the projection, and its collections.
const (
	Name = "vulnerabilities.occurrences"

	CatalogCollection     = "vulnerability_catalog" // _id: the vulnerability id; public
	OccurrencesCollection = "occurrences"           // _id: the occurrence id (per team)
	ArtifactsCollection   = "artifacts"             // _id: ArtifactDocID(team, artifact id)
	DigestsCollection     = "artifact_digests"      // _id: DigestDocID(team, digest) -> artifact id
	ScansCollection       = "artifact_scans"        // the fold's timeline, members and open set per team and artifact
	TagsCollection        = "image_tags"            // _id: TagDocID(team, tag): where the tag is, since when
	ConfigCollection      = "config_findings"       // misconfigurations and secrets (never a secret's value)
	ImportsCollection     = "scan_imports"          // one per import
)

// Occurrences is the projection.
type Occurrences struct{}

var _ projections.Projection = Occurrences{}

// New returns the projection.
func New() Occurrences { return Occurrences{} }

func (Occurrences) Name() string                  { return Name }
func (Occurrences) Database() dbregistry.Constant { return dbregistry.VULNERABILITIES }

func (Occurrences) EventTypes() []string {
	return []string{
		vuln.ScanImportStarted{}.EventType(), vuln.ScanResultsRecorded{}.EventType(), vuln.ArtifactScanned{}.EventType(),
		vuln.ScanImportRejected{}.EventType(), vuln.VulnerabilityCataloged{}.EventType(), vuln.VulnerabilityUpdated{}.EventType(),
		vuln.ImageTagMoved{}.EventType(),
		// The KEV join (kev.go, decision 55).
		ti.KEVEntryPublished{}.EventType(), ti.KEVEntryUpdated{}.EventType(), ti.KEVEntryWithdrawn{}.EventType(),
	}
}

func ix(name string, fields ...string) readmodel.Index {
	out := readmodel.Index{Name: name}
	for _, f := range fields {
		desc := false
		if f[0] == '-' {
			f, desc = f[1:], true
		}
		out.Fields = append(out.Fields, readmodel.IndexField{Path: f, Desc: desc})
	}
	return out
}

// Collections declares the read models and the indexes their queries use
// (queries/vulnerabilities).
func (Occurrences) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: CatalogCollection, Indexes: []readmodel.Index{
			ix("by_severity", "-severity_rank"),
			ix("by_kev_severity", "kev", "-severity_rank"),
		}},
		{Name: OccurrencesCollection, Indexes: []readmodel.Index{
			ix("by_team_severity", "team_id", "-severity_rank"),
			ix("by_team_severity_seen", "team_id", "severity_rank", "-first_seen"), // ?severity=: newest first
			ix("by_team_status_severity", "team_id", "status", "-severity_rank"),
			ix("by_team_vuln", "team_id", "vulnerability_id", "-severity_rank"),
			ix("by_team_artifact", "team_id", "artifact_id", "status", "-severity_rank"),
			ix("by_team_fix_severity", "team_id", "has_fix", "-severity_rank"),
			ix("by_team_kev_severity", "team_id", "kev", "-severity_rank"),
			// ?kev=true&as_of=T: the occurrences ever in KEV, filtered by their intervals.
			ix("by_team_kev_ever_severity", "team_id", "kev_ever", "-severity_rank"),
		}},
		// The KEV join (kev.go).
		{Name: KEVStatusCollection},
		{Name: VulnMembersCollection},
		{Name: ArtifactsCollection, Indexes: []readmodel.Index{
			ix("by_team_kind_scanned", "team_id", "kind", "-last_scanned_at"),
		}},
		{Name: DigestsCollection},
		{Name: ScansCollection, Indexes: []readmodel.Index{ix("by_team", "team_id")}},
		{Name: TagsCollection, Indexes: []readmodel.Index{ix("by_team_artifact", "team_id", "artifact_id")}},
		{Name: ConfigCollection, Indexes: []readmodel.Index{ix("by_team_artifact", "team_id", "artifact_id", "kind")}},
		{Name: ImportsCollection, Indexes: []readmodel.Index{ix("by_team_received", "team_id", "-received_at")}},
	}
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// ArtifactDocID is a team's artifact document.
func ArtifactDocID(team, artifactID string) string { return "ta-" + digest(team, artifactID) }

// DigestDocID is a team's lookup of an image by one of its digests.
func DigestDocID(team, d string) string { return "td-" + digest(team, d) }

// TagDocID is a team's tag.
func TagDocID(team, tag string) string { return "tt-" + digest(team, tag) }

func scansDocID(team, artifactID string) string { return "ts-" + digest(team, artifactID) }

// Apply implements projections.Projection.
func (Occurrences) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case vuln.VulnerabilityCataloged:
		err = catalog(ctx, tx, e.Record, nil, ev.Version, e.CatalogAt)
	case vuln.VulnerabilityUpdated:
		err = catalog(ctx, tx, e.Record, e.Changed, ev.Version, e.UpdatedAt)
	case vuln.ScanImportStarted:
		err = importStarted(ctx, tx, team, ev.Metadata.Actor, e)
	case vuln.ScanImportRejected:
		tx.Put(ImportsCollection, readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "rejected", "format": e.Format,
			"content_hash": e.ContentHash, "size": e.Size, "file_name": e.FileName, "reason": e.Reason,
			"received_at": readmodel.NormalizeTime(e.RejectedAt), "position": ev.Position})
	case vuln.ScanResultsRecorded:
		err = results(ctx, tx, team, e)
	case vuln.ArtifactScanned:
		err = scanned(ctx, tx, team, e, ev.Position)
	case vuln.ImageTagMoved:
		err = tagMoved(ctx, tx, team, e)
	case ti.KEVEntryPublished, ti.KEVEntryUpdated, ti.KEVEntryWithdrawn:
		err = kevEvent(ctx, tx, ev)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return nil
}

// catalog keeps the entry of the stream's latest event (the write side
// applied the merge rule; events of one stream arrive in order, and an
// older version is ignored whatever order streams are fed in).
func catalog(ctx context.Context, tx projections.Tx, r vuln.Record, changed []string, version int64, at time.Time) error {
	d, found, err := fold.Get(ctx, tx, CatalogCollection, r.ID)
	if err != nil {
		return err
	}
	if found && fold.Num(d, "version") >= version {
		return nil
	}
	cvss := map[string]any{}
	for src, c := range r.CVSS {
		m := map[string]any{}
		if c.V2Vector != "" {
			m["v2_vector"], m["v2_score"] = c.V2Vector, c.V2Score
		}
		if c.V3Vector != "" {
			m["v3_vector"], m["v3_score"] = c.V3Vector, c.V3Score
		}
		if c.V4Vector != "" {
			m["v4_vector"], m["v4_score"] = c.V4Vector, c.V4Score
		}
		cvss[src] = m
	}
	vs := map[string]any{}
	for src, s := range r.VendorSeverities {
		vs[src] = string(s)
	}
	nd := readmodel.Doc{
		"_id": r.ID, "aliases": strs(r.Aliases), "title": r.Title, "description": r.Description, "cwes": strs(r.CWEs),
		"references": strs(r.References), "primary_url": r.PrimaryURL, "cvss": cvss, "vendor_severities": vs,
		"severity": string(r.Severity), "severity_rank": int64(r.Severity.Rank()), "severity_source": r.SeveritySource,
		"published_at": fold.TimeOrNil(r.PublishedAt), "last_modified_at": fold.TimeOrNil(r.LastModifiedAt),
		"version": version, "updated_at": readmodel.NormalizeTime(at), "changed": strs(changed),
	}
	st, err := kevStatus(ctx, tx, r.ID)
	if err != nil {
		return err
	}
	setKEV(nd, st) // the KEV join (kev.go)
	if found {
		nd["cataloged_at"] = d["cataloged_at"]
	} else {
		nd["cataloged_at"] = readmodel.NormalizeTime(at)
	}
	if changed == nil {
		nd["cataloged_at"] = readmodel.NormalizeTime(at)
	}
	tx.Put(CatalogCollection, nd)
	return nil
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func importStarted(ctx context.Context, tx projections.Tx, team, actor string, e vuln.ScanImportStarted) error {
	d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "importing"}
	}
	d["format"], d["tool"], d["tool_version"], d["content_hash"], d["size"], d["file_name"] = e.Format, e.Tool, e.ToolVersion, e.ContentHash, e.Size, e.FileName
	d["artifact_id"], d["scanned_at"], d["received_at"], d["actor"] = e.ArtifactID, readmodel.NormalizeTime(e.ScannedAt), readmodel.NormalizeTime(e.StartedAt), actor
	tx.Put(ImportsCollection, d)
	return nil
}

// scansDoc is the fold's state of one team's artifact: the scans that
// looked at it (its timeline: every scan whose results or completion
// arrived), its occurrences and the open ones (with
// their severity, for the artifact's counts).
type scansDoc struct {
	ID, Team, Artifact string
	Steps              csdomain.Timeline
	Members            map[string]bool
	Open               map[string]string // occurrence id -> severity
	Completed          map[string]bool   // the scans whose completion was folded
}

func loadScans(ctx context.Context, tx projections.Tx, team, artifact string) (*scansDoc, error) {
	id := scansDocID(team, artifact)
	d, _, err := fold.Get(ctx, tx, ScansCollection, id)
	if err != nil {
		return nil, err
	}
	s := &scansDoc{ID: id, Team: team, Artifact: artifact, Members: map[string]bool{}, Open: map[string]string{}}
	for _, st := range fold.Objs(d, "steps") {
		s.Steps = append(s.Steps, csdomain.Step{At: fold.Time(st, "at"), Scan: fold.Str(st, "scan")})
	}
	for _, m := range fold.Strs(d, "members") {
		s.Members[m] = true
	}
	for k, v := range fold.Obj(d, "open") {
		s.Open[k], _ = v.(string)
	}
	s.Completed = map[string]bool{}
	for _, c := range fold.Strs(d, "completed") {
		s.Completed[c] = true
	}
	return s, nil
}

func (s *scansDoc) put(tx projections.Tx) {
	steps := make([]any, len(s.Steps))
	for i, st := range s.Steps {
		steps[i] = map[string]any{"at": readmodel.NormalizeTime(st.At), "scan": st.Scan}
	}
	open := map[string]any{}
	for k, v := range s.Open {
		open[k] = v
	}
	tx.Put(ScansCollection, readmodel.Doc{"_id": s.ID, "team_id": s.Team, "artifact_id": s.Artifact, "steps": steps,
		"members": strs(slices.Sorted(maps.Keys(s.Members))), "open": open,
		"completed": strs(slices.Sorted(maps.Keys(s.Completed)))})
}

// results folds a chunk: every occurrence it lists opens or extends its
// run at the scan.
func results(ctx context.Context, tx projections.Tx, team string, e vuln.ScanResultsRecorded) error {
	step := csdomain.Step{At: e.ScannedAt, Scan: e.ImportID}
	sc, err := loadScans(ctx, tx, team, e.ArtifactID)
	if err != nil {
		return err
	}
	// Every scan of the artifact known so far is on its timeline, those
	// whose results arrived before their completion too.
	sc.Steps.Insert(step)
	tl := sc.Steps
	for i := range e.Occurrences {
		o := &e.Occurrences[i]
		idn, err := vuln.OccurrenceIdentityOf(e.IdentityRule, e.Identity, *o)
		if err != nil {
			return err
		}
		oid := idn.OccurrenceID(team)
		d, found, err := fold.Get(ctx, tx, OccurrencesCollection, oid)
		if err != nil {
			return err
		}
		if !found {
			d = readmodel.Doc{"_id": oid, "team_id": team, "identity_rule": string(idn.Rule), "artifact_id": e.ArtifactID,
				"artifact_kind": string(idn.Artifact.Kind), "artifact_key": idn.Artifact.Key,
				"package": map[string]any{"class": string(idn.Class), "type": idn.Type, "name": idn.Package,
					"installed_version": idn.InstalledVersion, "location": idn.Location},
				"vulnerability_id": idn.VulnerabilityID}
			// The KEV join (kev.go): flagged on arrival when its CVE is
			// listed already; a later entry reaches it by the members.
			st, err := kevStatus(ctx, tx, idn.VulnerabilityID)
			if err != nil {
				return err
			}
			setKEV(d, st)
			if err := addMember(ctx, tx, idn.VulnerabilityID, oid); err != nil {
				return err
			}
		}
		hist := fold.HistoryFrom(fold.Obj(d, "history"))
		hist.Observe(step, true, tl)
		markSeen(d, e.ImportID)
		if !fold.Time(d, "attributes_at").After(e.ScannedAt) {
			d["attributes_at"] = readmodel.NormalizeTime(e.ScannedAt)
			d["fixed_versions"] = strs(o.FixedVersions)
			d["has_fix"] = o.FixAvailable()
			d["vendor_status"] = string(o.Status)
			d["severity"], d["severity_rank"], d["severity_source"] = string(o.Severity), int64(o.Severity.Rank()), o.SeveritySource
			d["purl"], d["layer"] = o.Package.PURL, o.Layer
		}
		saveOccurrence(d, hist, sc)
		tx.Put(OccurrencesCollection, d)
	}
	for i := range e.Misconfigurations {
		m := &e.Misconfigurations[i]
		id := vuln.MisconfigurationKey(team, e.Identity, *m)
		configFinding(ctx, tx, readmodel.Doc{"_id": id, "team_id": team, "artifact_id": e.ArtifactID, "kind": "misconfiguration",
			"rule_id": orElse(m.AVDID, m.ID), "title": m.Title, "severity": string(m.Severity), "status": string(m.Status),
			"target": m.Target, "config_type": m.ConfigType, "start_line": int64(m.Cause.StartLine), "end_line": int64(m.Cause.EndLine),
			"resolution": m.Resolution, "primary_url": m.PrimaryURL}, e.ScannedAt)
	}
	for i := range e.Secrets {
		s := &e.Secrets[i]
		id := vuln.SecretKey(team, e.Identity, *s)
		configFinding(ctx, tx, readmodel.Doc{"_id": id, "team_id": team, "artifact_id": e.ArtifactID, "kind": "secret",
			"rule_id": s.RuleID, "category": s.Category, "title": s.Title, "severity": string(s.Severity),
			"target": s.Target, "start_line": int64(s.Location.StartLine), "end_line": int64(s.Location.EndLine)}, e.ScannedAt)
	}
	sc.put(tx)
	return updateArtifactCounts(ctx, tx, sc)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// configFinding keeps a misconfiguration's or secret's latest sighting.
func configFinding(ctx context.Context, tx projections.Tx, d readmodel.Doc, at time.Time) {
	old, found, err := fold.Get(ctx, tx, ConfigCollection, fold.Str(d, "_id"))
	if err == nil && found {
		if fold.Time(old, "last_seen").After(at) {
			return
		}
		d["first_seen"] = old["first_seen"]
		if fold.Time(old, "first_seen").After(at) {
			d["first_seen"] = readmodel.NormalizeTime(at)
		}
	} else {
		d["first_seen"] = readmodel.NormalizeTime(at)
	}
	d["last_seen"] = readmodel.NormalizeTime(at)
	tx.Put(ConfigCollection, d)
}

// saveOccurrence writes the history's summary into d, and its state into
// the artifact's fold document.
func saveOccurrence(d readmodel.Doc, hist csdomain.History, sc *scansDoc) {
	s := hist.Summarize()
	d["history"] = fold.HistoryDoc(hist)
	d["status"] = s.Status
	lifecycle := "new"
	switch {
	case s.Status != csdomain.LifecycleOpen:
		lifecycle = "fixed"
	case s.TimesReopened > 0:
		lifecycle = "reopened"
	}
	d["lifecycle"] = lifecycle
	d["first_seen"], d["last_seen"] = fold.TimeOrNil(s.FirstSeen), fold.TimeOrNil(s.LastSeen)
	d["times_reopened"] = int64(s.TimesReopened)
	d["fixed_at"], d["fixed_by_scan"] = nil, ""
	if s.Closed != nil {
		d["fixed_at"], d["fixed_by_scan"] = readmodel.NormalizeTime(s.Closed.At), s.Closed.Scan
	}
	id := fold.Str(d, "_id")
	sc.Members[id] = true
	if s.Status == csdomain.LifecycleOpen {
		sc.Open[id] = fold.Str(d, "severity")
	} else {
		delete(sc.Open, id)
	}
}

// scanned completes a scan: the scan joins the artifact's timeline, and
// every occurrence of this artifact (only) that it did not report is told
// so, which fixes the open ones (the scope rule).
func scanned(ctx context.Context, tx projections.Tx, team string, e vuln.ArtifactScanned, position int64) error {
	step := csdomain.Step{At: e.ScannedAt, Scan: e.ImportID}
	sc, err := loadScans(ctx, tx, team, e.ArtifactID)
	if err != nil {
		return err
	}
	if sc.Completed[e.ImportID] {
		return nil // applied before
	}
	sc.Completed[e.ImportID] = true
	sc.Steps.Insert(step)
	latest := sc.Steps[len(sc.Steps)-1].Same(step)
	candidates := slices.Sorted(maps.Keys(sc.Open))
	if !latest {
		candidates = slices.Sorted(maps.Keys(sc.Members)) // an older scan: it may fall inside any run
	}
	for _, oid := range candidates {
		d, found, err := fold.Get(ctx, tx, OccurrencesCollection, oid)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		idn := vuln.OccurrenceIdentity{Artifact: vuln.ArtifactIdentity{Kind: vuln.ArtifactKind(fold.Str(d, "artifact_kind")), Key: fold.Str(d, "artifact_key")}}
		if !idn.InScopeOf(e.Identity) {
			continue // never: the fold's state is per artifact
		}
		hist := fold.HistoryFrom(fold.Obj(d, "history"))
		if seenBy(d, e.ImportID) {
			continue // the scan reported it
		}
		if !hist.Observe(step, false, sc.Steps) {
			continue
		}
		saveOccurrence(d, hist, sc)
		tx.Put(OccurrencesCollection, d)
	}
	sc.put(tx)
	if err := artifactScanned(ctx, tx, team, e); err != nil {
		return err
	}
	if err := updateArtifactCounts(ctx, tx, sc); err != nil {
		return err
	}
	d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": e.ImportID, "team_id": team}
	}
	d["status"], d["artifact_id"], d["completed_at"], d["position"] = "completed", e.ArtifactID, readmodel.NormalizeTime(e.CompletedAt), position
	d["counts"] = map[string]any{"occurrences": int64(e.Counts.Occurrences), "distinct_vulnerabilities": int64(e.Counts.DistinctVulnerabilities),
		"misconfigurations": int64(e.Counts.Misconfigurations), "secrets": int64(e.Counts.Secrets)}
	d["unpinned"] = e.Unpinned
	tx.Put(ImportsCollection, d)
	return nil
}

// The scans that reported an occurrence, by a short key of their import
// id: a run's span does not say it when a later scan's results arrived
// before an earlier scan's completion (the runs were joined across it,
// and the completion must split them).
func scanKey(importID string) string {
	if len(importID) > 16 {
		return importID[len(importID)-12:]
	}
	return importID
}

func seenBy(d readmodel.Doc, importID string) bool {
	_, found := slices.BinarySearch(fold.Strs(d, "seen_by"), scanKey(importID))
	return found
}

func markSeen(d readmodel.Doc, importID string) {
	seen := fold.Strs(d, "seen_by")
	k := scanKey(importID)
	if i, found := slices.BinarySearch(seen, k); !found {
		seen = slices.Insert(seen, i, k)
	}
	d["seen_by"] = strs(seen)
}

// artifactScanned keeps the team's artifact document: what the latest
// scan said of it (tags are the tag moves', not the scan's).
func artifactScanned(ctx context.Context, tx projections.Tx, team string, e vuln.ArtifactScanned) error {
	id := ArtifactDocID(team, e.ArtifactID)
	d, found, err := fold.Get(ctx, tx, ArtifactsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "artifact_id": e.ArtifactID, "tags": []any{}, "scans": int64(0),
			"first_scanned_at": readmodel.NormalizeTime(e.ScannedAt)}
	}
	if first := fold.Time(d, "first_scanned_at"); first.IsZero() || first.After(e.ScannedAt) {
		d["first_scanned_at"] = readmodel.NormalizeTime(e.ScannedAt)
	}
	d["scans"] = fold.Num(d, "scans") + 1
	if !fold.Time(d, "last_scanned_at").After(e.ScannedAt) {
		a := e.Artifact
		rds := []any{}
		for _, rd := range a.RepoDigests {
			rds = append(rds, map[string]any{"repository": rd.Repository, "digest": rd.Digest})
		}
		d["last_scanned_at"], d["last_import_id"] = readmodel.NormalizeTime(e.ScannedAt), e.ImportID
		d["kind"], d["name"], d["basis"], d["key"] = string(e.Identity.Kind), a.Name, string(e.Identity.Basis), e.Identity.Key
		d["image_id"], d["repo_digests"], d["unpinned"] = a.ImageID, rds, e.Unpinned
		d["os"] = map[string]any{"family": a.OS.Family, "name": a.OS.Name, "eosl": a.OS.EOSL}
		d["eosl"] = a.OS.EOSL
		d["reported_tags"] = strs(a.Tags)
	}
	tx.Put(ArtifactsCollection, d)
	// The lookups by digest: the identity's and every repo digest.
	keys := []string{e.Identity.Key}
	if e.Artifact.ImageID != "" {
		keys = append(keys, e.Artifact.ImageID)
	}
	for _, rd := range e.Artifact.RepoDigests {
		keys = append(keys, rd.Digest)
	}
	for _, k := range keys {
		tx.Put(DigestsCollection, readmodel.Doc{"_id": DigestDocID(team, k), "team_id": team, "artifact_id": e.ArtifactID})
	}
	return nil
}

// updateArtifactCounts writes the artifact's open occurrences by severity.
func updateArtifactCounts(ctx context.Context, tx projections.Tx, sc *scansDoc) error {
	id := ArtifactDocID(sc.Team, sc.Artifact)
	d, found, err := fold.Get(ctx, tx, ArtifactsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": sc.Team, "artifact_id": sc.Artifact, "tags": []any{}, "scans": int64(0)}
	}
	by := map[string]any{}
	for _, sev := range sc.Open {
		n, _ := by[sev].(int64)
		by[sev] = n + 1
	}
	d["open"], d["open_by_severity"] = int64(len(sc.Open)), by
	tx.Put(ArtifactsCollection, d)
	return nil
}

// tagMoved moves a tag between a team's artifacts; the latest move (by
// the scan that saw it) wins whatever order moves arrive in.
func tagMoved(ctx context.Context, tx projections.Tx, team string, e vuln.ImageTagMoved) error {
	id := TagDocID(team, e.Tag)
	d, found, err := fold.Get(ctx, tx, TagsCollection, id)
	if err != nil {
		return err
	}
	if found && fold.Time(d, "moved_at").After(e.MovedAt) {
		return nil
	}
	prev := fold.Str(d, "artifact_id")
	tx.Put(TagsCollection, readmodel.Doc{"_id": id, "team_id": team, "tag": e.Tag, "artifact_id": e.To,
		"moved_at": readmodel.NormalizeTime(e.MovedAt), "from": e.From})
	if prev != "" && prev != e.To {
		if err := setTag(ctx, tx, team, prev, e.Tag, false); err != nil {
			return err
		}
	}
	return setTag(ctx, tx, team, e.To, e.Tag, true)
}

func setTag(ctx context.Context, tx projections.Tx, team, artifact, tag string, on bool) error {
	id := ArtifactDocID(team, artifact)
	d, found, err := fold.Get(ctx, tx, ArtifactsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "artifact_id": artifact, "scans": int64(0)}
	}
	tags := fold.Strs(d, "tags")
	i, has := slices.BinarySearch(tags, tag)
	switch {
	case on && !has:
		tags = slices.Insert(tags, i, tag)
	case !on && has:
		tags = slices.Delete(tags, i, i+1)
	}
	d["tags"] = strs(tags)
	tx.Put(ArtifactsCollection, d)
	return nil
}
