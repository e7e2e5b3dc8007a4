package vulnerabilities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// SLA clocks (decision 56, docs/sla.md): the projection vulnerabilities.sla
// keeps one clock per occurrence and per imported cloud finding of a
// team, with its due date (the team's policy for its current severity
// from its first sighting, or KEV's dueDate when its CVE is listed), recomputed when the severity, the KEV
// entry or the policy changes, and frozen at resolution (met or missed).
//
// Every clock is a function of the set of events, not of their order:
//   - open or resolved: an occurrence is resolved at the first completed
//     scan of its artifact later than its last sighting (the scope rule:
//     only scans of its artifact count), open otherwise;
//   - its severity is the one of its latest sighting;
//   - the policy and KEV entry that apply are the ones in force at its
//     resolution (frozen), or the latest ones while it is open.
const (
	SLAName = "vulnerabilities.sla"

	SLAClocksCollection    = "sla_clocks"     // _id: the occurrence id or the imported finding id (per team)
	SLASummaryCollection   = "sla_summaries"  // _id: the team: counts, open clocks by due time
	SLAPoliciesCollection  = "sla_policies"   // _id: the team: its policy versions (public to the team)
	slaArtifactsCollection = "sla_artifacts"  // internal: completed scans and members of a team's artifact
	slaCVEsCollection      = "sla_cves"       // internal: KEV versions of a CVE and its shards (all teams)
	slaTeamsCollection     = "sla_teams"      // internal: a team's artifacts and cloud accounts (a policy change visits their clocks)
	slaCVEClocksCollection = "sla_cve_clocks" // internal: the clocks of one CVE in one team's artifact (a KEV event visits them)
	slaAccountsCollection  = "sla_accounts"   // internal: evaluations and failing findings of a team's cloud account
)

// Clock outcomes.
const (
	SLAOpen       = "open"
	SLAMet        = "met"
	SLAMissed     = "missed"
	SLANoDeadline = "no_deadline" // resolved, without a deadline
	// SLAAccepted is the status of an open clock paused by a risk
	// acceptance in force (sla_accept.go).
	SLAAccepted = "accepted"
)

// Due sources.
const (
	DueByPolicy = "policy"
	DueByKEV    = "kev"
	DueNone     = "none"
)

// SLA is the projection.
type SLA struct{}

var _ projections.Projection = SLA{}

// NewSLA returns the projection.
func NewSLA() SLA { return SLA{} }

func (SLA) Name() string                  { return SLAName }
func (SLA) Database() dbregistry.Constant { return dbregistry.VULNERABILITIES }

func (SLA) EventTypes() []string {
	return []string{
		vuln.ScanResultsRecorded{}.EventType(), vuln.ArtifactScanned{}.EventType(), vuln.SLAPolicySet{}.EventType(),
		ti.KEVEntryPublished{}.EventType(), ti.KEVEntryUpdated{}.EventType(), ti.KEVEntryWithdrawn{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(), csdomain.ImportCompleted{}.EventType(),
		// Risk acceptances pause clocks (sla_accept.go).
		rdomain.RiskAccepted{}.EventType(), rdomain.RiskAcceptanceRevoked{}.EventType(),
		rdomain.RiskAcceptanceExpired{}.EventType(), rdomain.AcceptedItemFixed{}.EventType(),
	}
}

// Collections declares the read models and the indexes of
// queries/vulnerabilities (breaches: open clocks by due date).
func (SLA) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: SLAClocksCollection, Indexes: []readmodel.Index{
			ix("by_team_status_due", "team_id", "status", "due_at"),
			ix("by_team_module_status_due", "team_id", "module", "status", "due_at"),
			ix("by_team_severity_status_due", "team_id", "severity", "status", "due_at"),
			ix("by_team_kev_status_due", "team_id", "kev", "status", "due_at"),
			// Accepted items fixed while accepted (the risk scheduler closes the acceptance for them).
			ix("by_accepted_status", "accepted", "status"),
		}},
		{Name: SLASummaryCollection},
		{Name: SLAPoliciesCollection},
		{Name: slaArtifactsCollection},
		{Name: slaCVEsCollection},
		{Name: slaTeamsCollection},
		{Name: slaCVEClocksCollection},
		{Name: slaAccountsCollection},
		{Name: slaAcceptanceScopesCollection},
		{Name: slaAcceptedCollection},
		{Name: slaAcceptanceRulesCollection},
	}
}

func slaArtifactID(team, artifact string) string { return "sa-" + digest(team, artifact) }

// slaPass caches the documents one event touches, written once at its end.
type slaPass struct {
	ctx      context.Context
	tx       projections.Tx
	teams    map[string]*slaTeam
	cves     map[string]readmodel.Doc
	cveDirty map[string]bool
	ruleDocs map[string]readmodel.Doc // the teams' rule acceptances (nil: none)
}

type slaTeam struct {
	policies readmodel.Doc // versions
	places   readmodel.Doc // artifacts and accounts
	summary  readmodel.Doc
	dirty    bool
	newPlace bool
}

func newPass(ctx context.Context, tx projections.Tx) *slaPass {
	return &slaPass{ctx: ctx, tx: tx, teams: map[string]*slaTeam{}, cves: map[string]readmodel.Doc{}, cveDirty: map[string]bool{},
		ruleDocs: map[string]readmodel.Doc{}}
}

func (p *slaPass) team(id string) (*slaTeam, error) {
	if t, ok := p.teams[id]; ok {
		return t, nil
	}
	pol, found, err := fold.Get(p.ctx, p.tx, SLAPoliciesCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		pol = readmodel.Doc{"_id": id, "team_id": id, "versions": []any{}}
	}
	places, found, err := fold.Get(p.ctx, p.tx, slaTeamsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		places = readmodel.Doc{"_id": id, "team_id": id, "artifacts": map[string]any{}, "accounts": map[string]any{}}
	}
	s, found, err := fold.Get(p.ctx, p.tx, SLASummaryCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		s = readmodel.Doc{"_id": id, "team_id": id}
	}
	t := &slaTeam{policies: pol, places: places, summary: s}
	p.teams[id] = t
	return t, nil
}

func (p *slaPass) cve(id string) (readmodel.Doc, error) {
	if d, ok := p.cves[id]; ok {
		return d, nil
	}
	d, found, err := fold.Get(p.ctx, p.tx, slaCVEsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "kev": []any{}, "shards": map[string]any{}}
	}
	p.cves[id] = d
	return d, nil
}

func (p *slaPass) flush() {
	for _, t := range p.teams {
		if !t.dirty {
			continue
		}
		if t.newPlace {
			p.tx.Put(slaTeamsCollection, t.places)
		}
		p.tx.Put(SLASummaryCollection, t.summary)
		p.tx.Put(SLAPoliciesCollection, t.policies)
	}
	for id := range p.cveDirty {
		p.tx.Put(slaCVEsCollection, p.cves[id])
	}
}

// addPlace records that the team has clocks in an artifact ("artifacts")
// or a cloud account ("accounts").
func (p *slaPass) addPlace(team, kind, id string) error {
	t, err := p.team(team)
	if err != nil {
		return err
	}
	m := fold.Obj(t.places, kind)
	if _, ok := m[id]; !ok {
		m[id] = true
		t.newPlace, t.dirty = true, true
	}
	return nil
}

func cveShardID(cve, team, artifact string) string { return "cs-" + digest(cve, team, artifact) }

// Apply implements projections.Projection.
func (SLA) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	p := newPass(ctx, tx)
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case vuln.ScanResultsRecorded:
		err = p.results(team, e)
	case vuln.ArtifactScanned:
		err = p.scanned(team, e)
	case vuln.SLAPolicySet:
		err = p.policySet(team, e)
	case csdomain.ResultsRecorded:
		err = p.findingResults(team, e)
	case csdomain.ImportCompleted:
		err = p.evaluated(team, e)
	case ti.KEVEntryPublished:
		err = p.kev(e.Entry.CVEID, e.PublishedAt, true, e.Entry.DueDate)
	case ti.KEVEntryUpdated:
		err = p.kev(e.Entry.CVEID, e.UpdatedAt, true, e.Entry.DueDate)
	case ti.KEVEntryWithdrawn:
		id := e.CVEID
		if id == "" {
			id = e.Entry.CVEID
		}
		err = p.kev(id, e.WithdrawnAt, false, time.Time{})
	case rdomain.RiskAccepted, rdomain.RiskAcceptanceRevoked, rdomain.RiskAcceptanceExpired, rdomain.AcceptedItemFixed:
		err = p.acceptance(team, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", SLAName, err)
	}
	p.flush()
	return nil
}

func timesOf(d map[string]any, key string) []time.Time {
	var out []time.Time
	switch l := d[key].(type) {
	case []any:
		for _, v := range l {
			if t, ok := v.(time.Time); ok {
				out = append(out, t)
			}
		}
	case []time.Time:
		out = l
	}
	return out
}

func anyTimes(ts []time.Time) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = readmodel.NormalizeTime(t)
	}
	return out
}

// results records the sightings of a chunk.
func (p *slaPass) results(team string, e vuln.ScanResultsRecorded) error {
	if len(e.Occurrences) == 0 {
		return nil
	}
	at := readmodel.NormalizeTime(e.ScannedAt)
	art, found, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, slaArtifactID(team, e.ArtifactID))
	if err != nil {
		return err
	}
	if !found {
		art = readmodel.Doc{"_id": slaArtifactID(team, e.ArtifactID), "team_id": team, "artifact_id": e.ArtifactID, "completed": []any{}}
	}
	members := map[string]any{}
	maps.Copy(members, fold.Obj(art, "members"))
	completed := timesOf(art, "completed")
	byCVE := map[string][]string{}
	for i := range e.Occurrences {
		o := &e.Occurrences[i]
		idn, err := vuln.OccurrenceIdentityOf(e.IdentityRule, e.Identity, *o)
		if err != nil {
			return err
		}
		oid := idn.OccurrenceID(team)
		d, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, oid)
		if err != nil {
			return err
		}
		old := readmodel.Doc(nil)
		if found {
			old = maps.Clone(d)
		} else {
			d = readmodel.Doc{"_id": oid, "team_id": team, "module": vuln.SLAModuleVulnerabilities, "item_id": oid,
				"vulnerability_id": idn.VulnerabilityID, "artifact_id": e.ArtifactID, "package": idn.Package,
				"installed_version": idn.InstalledVersion, "first_seen": at, "last_seen": at}
		}
		if fs := fold.Time(d, "first_seen"); fs.After(at) {
			d["first_seen"] = at
		}
		if ls := fold.Time(d, "last_seen"); ls.Before(at) {
			d["last_seen"] = at
		}
		if sa := fold.Time(d, "severity_at"); !found || !sa.After(at) {
			d["severity"], d["severity_rank"], d["severity_at"] = string(o.Severity), int64(o.Severity.Rank()), at
		}
		if _, known := members[oid]; !known {
			byCVE[idn.VulnerabilityID] = append(byCVE[idn.VulnerabilityID], oid)
		}
		members[oid] = fold.Time(d, "last_seen")
		cve, err := p.cve(idn.VulnerabilityID)
		if err != nil {
			return err
		}
		if err := p.save(team, old, d, completed, cve); err != nil {
			return err
		}
	}
	art["members"] = members
	p.tx.Put(slaArtifactsCollection, art)
	if err := p.addPlace(team, "artifacts", e.ArtifactID); err != nil {
		return err
	}
	// The new clocks of each CVE, in the CVE's shard of this artifact.
	for _, id := range slices.Sorted(maps.Keys(byCVE)) {
		sid := cveShardID(id, team, e.ArtifactID)
		sh, found, err := fold.Get(p.ctx, p.tx, slaCVEClocksCollection, sid)
		if err != nil {
			return err
		}
		if !found {
			sh = readmodel.Doc{"_id": sid, "cve": id, "team_id": team, "artifact_id": e.ArtifactID, "clocks": map[string]any{}}
			cve, err := p.cve(id)
			if err != nil {
				return err
			}
			fold.Obj(cve, "shards")[sid] = true
			p.cveDirty[id] = true
		}
		clocks := fold.Obj(sh, "clocks")
		for _, oid := range byCVE[id] {
			clocks[oid] = true
		}
		p.tx.Put(slaCVEClocksCollection, sh)
	}
	return nil
}

// scanned adds a completed scan to its artifact: the clocks last seen
// before it may be resolved by it (or earlier).
func (p *slaPass) scanned(team string, e vuln.ArtifactScanned) error {
	at := readmodel.NormalizeTime(e.ScannedAt)
	id := slaArtifactID(team, e.ArtifactID)
	art, found, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		art = readmodel.Doc{"_id": id, "team_id": team, "artifact_id": e.ArtifactID, "members": map[string]any{}}
	}
	completed := timesOf(art, "completed")
	i, has := slices.BinarySearchFunc(completed, at, func(a, b time.Time) int { return a.Compare(b) })
	if has {
		return nil
	}
	completed = slices.Insert(completed, i, at)
	art["completed"] = anyTimes(completed)
	p.tx.Put(slaArtifactsCollection, art)
	members := fold.Obj(art, "members")
	for _, oid := range slices.Sorted(maps.Keys(members)) {
		ls, _ := members[oid].(time.Time)
		if !ls.Before(at) {
			continue
		}
		if err := p.recompute(team, oid, completed, nil); err != nil {
			return err
		}
	}
	return nil
}

// recompute loads a clock and saves it again under what is known now.
//
// acc, when not nil, is the finding's account document as the Tx holds it
// (a caller going through an account's members has it already): it is
// used instead of reading it again for each member, if it is that
// account.
func (p *slaPass) recompute(team, oid string, completed []time.Time, acc readmodel.Doc) error {
	d, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, oid)
	if err != nil || !found {
		return err
	}
	if team == "" {
		team = fold.Str(d, "team_id")
	}
	if fold.Str(d, "module") == vuln.SLAModuleCloudFindings {
		if id := slaAccountID(team, fold.Str(d, "provider"), fold.Str(d, "account")); acc == nil || fold.Str(acc, "_id") != id {
			if acc, _, err = fold.Get(p.ctx, p.tx, slaAccountsCollection, id); err != nil {
				return err
			}
		}
		return p.save(team, maps.Clone(d), d, evaluationsOf(acc, fold.Str(d, "region"), fold.Str(d, "check")), nil)
	}
	if completed == nil {
		art, _, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, slaArtifactID(team, fold.Str(d, "artifact_id")))
		if err != nil {
			return err
		}
		completed = timesOf(art, "completed")
	}
	cve, err := p.cve(fold.Str(d, "vulnerability_id"))
	if err != nil {
		return err
	}
	return p.save(team, maps.Clone(d), d, completed, cve)
}

func (p *slaPass) policySet(team string, e vuln.SLAPolicySet) error {
	t, err := p.team(team)
	if err != nil {
		return err
	}
	b, err := json.Marshal(e.Policy)
	if err != nil {
		return err
	}
	at := readmodel.NormalizeTime(e.SetAt)
	vs := fold.Objs(t.policies, "versions")
	for _, v := range vs {
		if fold.Time(v, "at").Equal(at) {
			return nil // applied before
		}
	}
	vs = append(vs, map[string]any{"at": at, "policy": string(b)})
	slices.SortStableFunc(vs, func(a, b map[string]any) int { return fold.Time(a, "at").Compare(fold.Time(b, "at")) })
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = v
	}
	t.policies["versions"] = list
	t.policies["policy"] = vs[len(vs)-1]["policy"]
	t.dirty = true
	// Every clock of the team: open ones take the new policy; resolved
	// ones take the policy in force at their resolution (which may be this
	// one, when the resolution arrived first).
	for _, art := range slices.Sorted(maps.Keys(fold.Obj(t.places, "artifacts"))) {
		d, _, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, slaArtifactID(team, art))
		if err != nil {
			return err
		}
		completed := timesOf(d, "completed")
		for _, oid := range slices.Sorted(maps.Keys(fold.Obj(d, "members"))) {
			if err := p.recompute(team, oid, completed, nil); err != nil {
				return err
			}
		}
	}
	for _, acc := range slices.Sorted(maps.Keys(fold.Obj(t.places, "accounts"))) {
		d, _, err := fold.Get(p.ctx, p.tx, slaAccountsCollection, acc)
		if err != nil {
			return err
		}
		for _, fid := range slices.Sorted(maps.Keys(fold.Obj(d, "members"))) {
			if err := p.recompute(team, fid, nil, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *slaPass) kev(cveID string, at time.Time, listed bool, due time.Time) error {
	if cveID == "" {
		return nil
	}
	cve, err := p.cve(cveID)
	if err != nil {
		return err
	}
	at = readmodel.NormalizeTime(at)
	vs := fold.Objs(cve, "kev")
	for _, v := range vs {
		if fold.Time(v, "at").Equal(at) && fold.Flag(v, "listed") == listed {
			return nil // applied before
		}
	}
	vs = append(vs, map[string]any{"at": at, "listed": listed, "due_date": fold.TimeOrNil(due)})
	slices.SortStableFunc(vs, func(a, b map[string]any) int {
		if c := fold.Time(a, "at").Compare(fold.Time(b, "at")); c != 0 {
			return c
		}
		// Two versions at one time (never from one catalogue stream): a
		// listing wins, whatever order they came in.
		switch la, lb := fold.Flag(a, "listed"), fold.Flag(b, "listed"); {
		case la == lb:
			return 0
		case la:
			return 1
		}
		return -1
	})
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = v
	}
	cve["kev"] = list
	p.cveDirty[cveID] = true
	for _, sid := range slices.Sorted(maps.Keys(fold.Obj(cve, "shards"))) {
		sh, _, err := fold.Get(p.ctx, p.tx, slaCVEClocksCollection, sid)
		if err != nil {
			return err
		}
		team := fold.Str(sh, "team_id")
		art, _, err := fold.Get(p.ctx, p.tx, slaArtifactsCollection, slaArtifactID(team, fold.Str(sh, "artifact_id")))
		if err != nil {
			return err
		}
		completed := timesOf(art, "completed")
		for _, oid := range slices.Sorted(maps.Keys(fold.Obj(sh, "clocks"))) {
			if err := p.recompute(team, oid, completed, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// policyAt is the team's policy in force at t (the latest when t is zero).
func policyAt(t *slaTeam, at time.Time) (vuln.SLAPolicy, error) {
	pol := vuln.DefaultSLAPolicy()
	for _, v := range fold.Objs(t.policies, "versions") {
		if !at.IsZero() && fold.Time(v, "at").After(at) {
			break
		}
		var next vuln.SLAPolicy
		if err := json.Unmarshal([]byte(fold.Str(v, "policy")), &next); err != nil {
			return pol, fmt.Errorf("policy version: %w", err)
		}
		pol = next
	}
	return pol, nil
}

// kevAt is the KEV state of the CVE at t (the latest when t is zero).
func kevAt(cve readmodel.Doc, at time.Time) (bool, time.Time) {
	listed, due := false, time.Time{}
	for _, v := range fold.Objs(cve, "kev") {
		if !at.IsZero() && fold.Time(v, "at").After(at) {
			break
		}
		listed, due = fold.Flag(v, "listed"), fold.Time(v, "due_date")
	}
	return listed, due
}

// save computes the clock d (old: its document before, nil when new) and
// writes it, keeping the team's open set and summary.
func (p *slaPass) save(team string, old, d readmodel.Doc, completed []time.Time, cve readmodel.Doc) error {
	t, err := p.team(team)
	if err != nil {
		return err
	}
	last := fold.Time(d, "last_seen")
	var resolvedAt time.Time
	i, _ := slices.BinarySearchFunc(completed, last, func(a, b time.Time) int { return a.Compare(b) })
	for ; i < len(completed); i++ {
		if completed[i].After(last) {
			resolvedAt = completed[i]
			break
		}
	}
	pol, err := policyAt(t, resolvedAt)
	if err != nil {
		return err
	}
	kev, kevDue := kevAt(cve, resolvedAt)
	sev := fold.Str(d, "severity")
	due, source := time.Time{}, DueNone
	switch {
	case kev && !kevDue.IsZero():
		due, source = kevDue, DueByKEV
	default:
		if at, ok := pol.DueAt(fold.Str(d, "module"), slaSeverity(sev), fold.Time(d, "first_seen")); ok {
			due, source = at, DueByPolicy
		}
	}
	// Time accepted does not count: the due date moves by it (sla_accept.go).
	paused, accepted, err := p.pause(team, d, fold.Time(d, "first_seen"), resolvedAt)
	if err != nil {
		return err
	}
	if !due.IsZero() {
		due = due.Add(paused)
	}
	// Kept three times (this module, the dashboard, the KRIs), so only
	// what is read (decision 109): no time paused (the due date has it),
	// no empty list of acceptances, no resolution time while open. The
	// flags stay, false included: the queries filter kev=false.
	delete(d, "paused_seconds")
	d["accepted"], d["acceptance_ids"] = len(accepted) > 0, accepted
	if len(accepted) == 0 {
		delete(d, "acceptance_ids")
	}
	d["kev"], d["due_at"], d["due_source"] = kev, fold.TimeOrNil(due), source
	switch {
	case resolvedAt.IsZero() && len(accepted) > 0:
		// Paused: out of the breaches and of the open counts while accepted.
		d["status"], d["outcome"] = SLAAccepted, SLAOpen
		delete(d, "resolved_at")
	case resolvedAt.IsZero():
		d["status"], d["outcome"] = SLAOpen, SLAOpen
		delete(d, "resolved_at")
	default:
		outcome := SLANoDeadline
		switch {
		case due.IsZero():
		case resolvedAt.After(due):
			outcome = SLAMissed
		default:
			outcome = SLAMet
		}
		d["status"], d["resolved_at"], d["outcome"] = "resolved", resolvedAt, outcome
	}
	if old != nil {
		count(t.summary, old, -1)
	}
	count(t.summary, d, +1)
	t.dirty = true
	p.tx.Put(SLAClocksCollection, d)
	return nil
}

// slaSeverity maps a vulnerability's severity to the policy's.
func slaSeverity(s string) string {
	if s == string(vuln.SeverityUnknown) || s == "" {
		return vuln.SLAInformational
	}
	return s
}

// count adds n to the summary cell of clock d: open clocks by module,
// severity and due time (unix seconds; "none" without a deadline), so
// that breached and due-soon are counted at query time; resolved ones by
// module, outcome and severity.
func count(s readmodel.Doc, d readmodel.Doc, n int64) {
	module, sev := fold.Str(d, "module"), slaSeverity(fold.Str(d, "severity"))
	if module == "" || fold.Str(d, "status") == "" {
		return
	}
	var path []string
	if fold.Str(d, "status") == SLAOpen {
		key := "none"
		if due := fold.Time(d, "due_at"); !due.IsZero() {
			key = strconv.FormatInt(due.Unix(), 10)
		}
		path = []string{"open", module, sev, key}
	} else if fold.Str(d, "status") == SLAAccepted {
		path = []string{"accepted", module, sev}
	} else {
		path = []string{"resolved", module, fold.Str(d, "outcome"), sev}
	}
	add(map[string]any(s), path, n)
}

// add adds n at path, dropping cells and objects that become empty (the
// summary is the same whatever order clocks moved in).
func add(m map[string]any, path []string, n int64) {
	k := path[0]
	if len(path) == 1 {
		if v := fold.Num(m, k) + n; v == 0 {
			delete(m, k)
		} else {
			m[k] = v
		}
		return
	}
	next := fold.Obj(m, k)
	if next == nil {
		next = map[string]any{}
		m[k] = next
	}
	add(next, path[1:], n)
	if len(next) == 0 {
		delete(m, k)
	}
}

// Cloud-security findings (imported): a finding's clock starts at its
// first failure (failing since) and it is resolved at the first completed
// evaluation of its scope (account, region, check) later than its last
// failure: the scope rule of docs/findings-lifecycle.md, without the
// lifecycle fold's timeline.

func slaAccountID(team, provider, account string) string {
	return "sc-" + digest(team, provider, account)
}

// evaluationsOf lists the times of the account's completed evaluations of
// (region, check), in order.
func evaluationsOf(acc readmodel.Doc, region, check string) []time.Time {
	var out []time.Time
	for _, ev := range fold.Objs(acc, "evaluations") {
		if chks := fold.Strs(ev, "checks"); slices.Contains(fold.Strs(ev, "regions"), region) && (slices.Contains(chks, check) || slices.Contains(chks, csdomain.AllChecks)) { // AllChecks: decision 59
			out = append(out, fold.Time(ev, "at"))
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

func (p *slaPass) account(team, provider, account string) (readmodel.Doc, error) {
	id := slaAccountID(team, provider, account)
	d, found, err := fold.Get(p.ctx, p.tx, slaAccountsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "provider": provider, "account": account, "evaluations": []any{}, "members": map[string]any{}}
	}
	return d, nil
}

// findingResults records a chunk's failures.
func (p *slaPass) findingResults(team string, e csdomain.ResultsRecorded) error {
	at := readmodel.NormalizeTime(e.EvaluatedAt)
	accounts := map[string]readmodel.Doc{}
	for i := range e.Results {
		r := &e.Results[i]
		if r.Result != csdomain.ResultFail {
			continue
		}
		key := r.Provider + "\x00" + r.Account
		acc, ok := accounts[key]
		if !ok {
			var err error
			if acc, err = p.account(team, r.Provider, r.Account); err != nil {
				return err
			}
			accounts[key] = acc
		}
		fid := r.Identity(e.IdentityRule).FindingID(team)
		d, found, err := fold.Get(p.ctx, p.tx, SLAClocksCollection, fid)
		if err != nil {
			return err
		}
		old := readmodel.Doc(nil)
		if found {
			old = maps.Clone(d)
		} else {
			d = readmodel.Doc{"_id": fid, "team_id": team, "module": vuln.SLAModuleCloudFindings, "item_id": fid,
				"provider": r.Provider, "account": r.Account, "region": r.Region, "check": r.Check, "resource": r.Resource,
				"first_seen": at, "last_seen": at}
		}
		if fs := fold.Time(d, "first_seen"); fs.After(at) {
			d["first_seen"] = at
		}
		if ls := fold.Time(d, "last_seen"); ls.Before(at) {
			d["last_seen"] = at
		}
		if sa := fold.Time(d, "severity_at"); !found || !sa.After(at) {
			d["severity"], d["severity_at"] = string(r.Severity), at
			d["severity_rank"] = int64(slaRank(string(r.Severity)))
		}
		fold.Obj(acc, "members")[fid] = map[string]any{"last": fold.Time(d, "last_seen"), "region": r.Region, "check": r.Check}
		if err := p.save(team, old, d, evaluationsOf(acc, r.Region, r.Check), nil); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(accounts)) {
		p.tx.Put(slaAccountsCollection, accounts[k])
		if err := p.addPlace(team, "accounts", fold.Str(accounts[k], "_id")); err != nil {
			return err
		}
	}
	return nil
}

// evaluated adds a completed import's evaluations: the failing findings
// of its scopes last seen before it may be resolved by it.
func (p *slaPass) evaluated(team string, e csdomain.ImportCompleted) error {
	at := readmodel.NormalizeTime(e.EvaluatedAt)
	for _, sc := range e.Scopes {
		acc, err := p.account(team, sc.Provider, sc.Account)
		if err != nil {
			return err
		}
		evs := fold.Objs(acc, "evaluations")
		done := false
		for _, ev := range evs {
			done = done || (fold.Str(ev, "scan") == e.ScanID && fold.Time(ev, "at").Equal(at))
		}
		if done {
			continue // applied before
		}
		evs = append(evs, map[string]any{"at": at, "scan": e.ScanID, "regions": strs(slices.Sorted(slices.Values(sc.Regions))),
			"checks": strs(slices.Sorted(slices.Values(sc.Checks)))})
		slices.SortStableFunc(evs, func(a, b map[string]any) int {
			if c := fold.Time(a, "at").Compare(fold.Time(b, "at")); c != 0 {
				return c
			}
			return compareStr(fold.Str(a, "scan"), fold.Str(b, "scan"))
		})
		list := make([]any, len(evs))
		for i, ev := range evs {
			list[i] = ev
		}
		acc["evaluations"] = list
		p.tx.Put(slaAccountsCollection, acc)
		// The account as stored (normalized), read once for its members'
		// recomputes rather than once by each.
		stored, _, err := fold.Get(p.ctx, p.tx, slaAccountsCollection, fold.Str(acc, "_id"))
		if err != nil {
			return err
		}
		members := fold.Obj(acc, "members")
		for _, fid := range slices.Sorted(maps.Keys(members)) {
			m := fold.Obj(members, fid)
			last := fold.Time(m, "last")
			if !last.Before(at) || !slices.Contains(sc.Regions, fold.Str(m, "region")) || (!slices.Contains(sc.Checks, fold.Str(m, "check")) && !slices.Contains(sc.Checks, csdomain.AllChecks)) {
				continue
			}
			if err := p.recompute(team, fid, nil, stored); err != nil {
				return err
			}
		}
	}
	return nil
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func slaRank(sev string) int {
	switch sev {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	}
	return 0
}
