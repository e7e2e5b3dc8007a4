package orchestration

import (
	"context"
	"maps"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Scan deltas: what each scan changed. The scan summaries projection folds
// the imports' results into its own copy of the findings' lifecycle
// (projections/fold.Lifecycle, in this database: a cross-module view is a
// projection, never a join), and keeps per scan:
//
//   - one scan_deltas document per finding the scan changed: new (it
//     raised it), reopened, or fixed, with the severity it had then;
//   - one scan_delta_counts document: those changes by severity, and the
//     failing and muted results of the scan by severity (unchanged =
//     failing − new − reopened).
//
// A scan learnt after a newer one can change a later scan's delta (it may
// have raised what the later one was thought to raise): the documents are
// derived from the histories each time they change, so they converge to the
// same content whatever order imports arrive in.

// Collections of the scan deltas.
const (
	ScanDeltasCollection      = "scan_deltas"
	ScanDeltaCountsCollection = "scan_delta_counts"
	deltaFindingsCollection   = "delta_findings" // internal: histories and severities
	deltaAccountsCollection   = "delta_accounts" // internal: the fold's accounts
	deltaScopesCollection     = "delta_scopes"   // internal: the fold's scopes
)

var deltaLifecycle = fold.Lifecycle{Accounts: deltaAccountsCollection, Scopes: deltaScopesCollection}

// DeltaKey is the _id of a finding's scan_deltas document in a scan.
func DeltaKey(team, scanID, findingID string) string { return Key(team, scanID) + "/" + findingID }

func deltaCollections() []readmodel.CollectionSpec {
	return append([]readmodel.CollectionSpec{
		{Name: ScanDeltasCollection, SmallDocs: true, Indexes: []readmodel.Index{
			{Name: "by_team_scan_change", Fields: []readmodel.IndexField{
				{Path: "team_id"}, {Path: "scan_id"}, {Path: "change"}, {Path: "severity_rank", Desc: true}}},
			// A scan's whole delta, most severe first (no change asked):
			// a page is an index range, not a sort of the scan's changes.
			{Name: "by_team_scan_severity", Fields: []readmodel.IndexField{
				{Path: "team_id"}, {Path: "scan_id"}, {Path: "severity_rank", Desc: true}}},
		}},
		{Name: ScanDeltaCountsCollection},
		{Name: deltaFindingsCollection},
		{Name: deltaRulesCollection},
	}, deltaLifecycle.CollectionSpecs()...)
}

func deltaEventTypes() []string {
	return []string{csdomain.ResultsRecorded{}.EventType(), csdomain.ImportCompleted{}.EventType(),
		csdomain.MutingRuleCreated{}.EventType(), csdomain.MutingRuleChanged{}.EventType(),
		csdomain.MutingRuleRemoved{}.EventType(), csdomain.MutingRuleExpired{}.EventType()}
}

// resolveImported applies a person's resolution of an imported finding
// (a step of its lifecycle: a later failing scan reopens it).
func resolveImported(ctx context.Context, tx projections.Tx, ev projections.Event, e csdomain.FindingResolved) error {
	d, found, err := fold.Get(ctx, tx, deltaFindingsCollection, e.FindingID)
	if err != nil || !found || fold.Str(d, "team_id") != ev.Metadata.TeamID {
		return err
	}
	s := csdomain.Scope{Provider: fold.Str(d, "provider"), Account: fold.Str(d, "account_id"),
		Region: fold.Str(d, "region"), Check: fold.Str(d, "check_id")}
	return deltaLifecycle.Resolve(ctx, tx, ev.Metadata.TeamID, s, e.FindingID,
		csdomain.Step{At: e.ResolvedAt, By: ev.Metadata.Actor}, deltaHistories{})
}

// applyDelta folds an import event into the deltas; false when ev is none.
func applyDelta(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ResultsRecorded:
		if err := countResults(ctx, tx, team, e); err != nil {
			return true, err
		}
		return true, deltaLifecycle.Results(ctx, tx, team, e, deltaHistories{})
	case csdomain.ImportCompleted:
		return true, deltaLifecycle.Completed(ctx, tx, team, e, deltaHistories{})
	case csdomain.FindingResolved:
		if !csdomain.IsImportedFinding(e.FindingID) {
			return false, nil // the scan summaries count findings raised through the API
		}
		return true, resolveImported(ctx, tx, ev, e)
	case csdomain.FindingSuppressed:
		// A suppression changes no scan's delta; the API's findings are
		// counted by the scan summaries.
		return csdomain.IsImportedFinding(e.FindingID), nil
	case csdomain.MutingRuleCreated:
		return true, updateRules(ctx, tx, team, e.RuleID, func(r *deltaRule) {
			r.versions = append(r.versions, ruleVersion{from: e.CreatedAt, match: e.Match})
		})
	case csdomain.MutingRuleChanged:
		return true, updateRules(ctx, tx, team, e.RuleID, func(r *deltaRule) {
			r.versions = append(r.versions, ruleVersion{from: e.ChangedAt, match: e.Match})
		})
	case csdomain.MutingRuleRemoved:
		return true, updateRules(ctx, tx, team, e.RuleID, func(r *deltaRule) { r.end(e.RemovedAt) })
	case csdomain.MutingRuleExpired:
		return true, updateRules(ctx, tx, team, e.RuleID, func(r *deltaRule) { r.end(e.ExpiredAt) })
	}
	return false, nil
}

// deltaCounts is a scan_delta_counts document: per category (new,
// reopened, fixed, failing, muted), counts by severity.
type deltaCounts struct {
	id, team, scan string
	counts         map[string]map[string]int64
}

func loadDeltaCounts(ctx context.Context, tx projections.Tx, team, scan string) (*deltaCounts, error) {
	id := Key(team, scan)
	d, _, err := fold.Get(ctx, tx, ScanDeltaCountsCollection, id)
	if err != nil {
		return nil, err
	}
	c := &deltaCounts{id: id, team: team, scan: scan, counts: map[string]map[string]int64{}}
	for cat, v := range fold.Obj(d, "counts") {
		m, _ := v.(map[string]any)
		c.counts[cat] = map[string]int64{}
		for sev := range m {
			c.counts[cat][sev] = fold.Num(m, sev)
		}
	}
	return c, nil
}

func (c *deltaCounts) add(category, severity string, n int64) {
	if c.counts[category] == nil {
		c.counts[category] = map[string]int64{}
	}
	c.counts[category][severity] += n
	if c.counts[category][severity] == 0 {
		delete(c.counts[category], severity)
	}
	if len(c.counts[category]) == 0 {
		delete(c.counts, category)
	}
}

func (c *deltaCounts) doc() readmodel.Doc {
	counts := map[string]any{}
	for cat, m := range c.counts {
		mm := map[string]any{}
		for sev, n := range m {
			mm[sev] = n
		}
		counts[cat] = mm
	}
	return readmodel.Doc{"_id": c.id, "team_id": c.team, "scan_id": c.scan, "counts": counts}
}

// Counted categories besides the changes.
const (
	countFailing = "failing" // failing results of the scan
	countMuted   = "muted"   // failing results the tool muted
)

// countResults counts a chunk's failing and muted results in its scan:
// muted by the tool, or by a rule in force at the scan's time (a rule
// never reaches back to scans before it).
func countResults(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	c, err := loadDeltaCounts(ctx, tx, team, e.ScanID)
	if err != nil {
		return err
	}
	rules, err := loadRules(ctx, tx, team)
	if err != nil {
		return err
	}
	for _, r := range e.Results {
		if r.Result != csdomain.ResultFail {
			continue
		}
		c.add(countFailing, string(r.Severity), 1)
		id := r.Identity(e.IdentityRule)
		s := csdomain.MuteSubject{FindingID: id.FindingID(team), Check: r.Check, Resource: r.Resource,
			Account: r.Account, Region: r.Region, Tags: r.Tags}
		if r.Muted || rules.mutes(s, e.EvaluatedAt) {
			c.add(countMuted, string(r.Severity), 1)
		}
	}
	tx.Put(ScanDeltaCountsCollection, c.doc())
	return nil
}

// deltaHistories keeps the histories in delta_findings documents, with the
// severity each failing evaluation reported, and turns every change of a
// history into changes of the scans' deltas.
type deltaHistories struct{}

func (deltaHistories) History(ctx context.Context, tx projections.Tx, id string) (csdomain.History, bool, error) {
	d, found, err := fold.Get(ctx, tx, deltaFindingsCollection, id)
	if err != nil || !found {
		return csdomain.History{}, false, err
	}
	return fold.HistoryFrom(fold.Obj(d, "history")), true, nil
}

// change is one scan_deltas entry of a finding.
type change struct{ kind, severity string }

func (deltaHistories) Save(ctx context.Context, tx projections.Tx, c fold.Change) error {
	id, team, identity, before, after, r := c.ID, c.Team, c.Identity, c.Before, c.After, c.Result
	d, found, err := fold.Get(ctx, tx, deltaFindingsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		if r == nil {
			return nil
		}
		d = readmodel.Doc{"_id": id, "team_id": team, "provider": identity.Provider, "account_id": identity.Account,
			"region": identity.Region, "check_id": identity.Check, "resource_id": identity.Resource}
	}
	sevs := map[string]string{}
	for scan, v := range fold.Obj(d, "severities") {
		sevs[scan], _ = v.(string)
	}
	latest := fold.Str(d, "severity")
	old := changesOf(before, sevs, latest)
	if r != nil {
		// A change is dated to a run's first or last failing scan: keep
		// the severity each scan reported (boundaries only, below).
		sevs[c.Step.Scan] = string(r.Severity)
		if !fold.Time(d, "severity_at").After(r.ObservedAt) {
			latest = string(r.Severity)
			d["severity"], d["severity_at"] = latest, readmodel.NormalizeTime(r.ObservedAt)
		}
	}
	sevs = keepBoundaries(after, sevs)
	now := changesOf(after, sevs, latest)
	if err := applyChanges(ctx, tx, team, id, d, old, now); err != nil {
		return err
	}
	sv := map[string]any{}
	for k, v := range sevs {
		sv[k] = v
	}
	d["severities"] = sv
	d["history"] = fold.HistoryDoc(after)
	tx.Put(deltaFindingsCollection, d)
	return nil
}

// keepBoundaries keeps the severities of the scans that start or end a run.
func keepBoundaries(h csdomain.History, sevs map[string]string) map[string]string {
	keep := map[string]string{}
	for _, run := range h.Runs {
		for _, s := range []string{run.From.Scan, run.To.Scan} {
			if v, ok := sevs[s]; ok {
				keep[s] = v
			}
		}
	}
	return keep
}

// changesOf is what h says each scan changed: new and reopened with the
// severity the scan reported, fixed with the severity of the run's last
// failing evaluation (the latest severity when that is not known).
func changesOf(h csdomain.History, sevs map[string]string, latest string) map[string]change {
	sev := func(scan string) string {
		if s, ok := sevs[scan]; ok {
			return s
		}
		return latest
	}
	out := map[string]change{}
	for i, run := range h.Runs {
		kind := csdomain.ChangeNew
		if i > 0 {
			kind = csdomain.ChangeReopened
		}
		out[run.From.Scan] = change{kind: kind, severity: sev(run.From.Scan)}
		if run.Fix != nil && !run.Fix.Manual() {
			out[run.Fix.Scan] = change{kind: csdomain.ChangeFixed, severity: sev(run.To.Scan)}
		}
	}
	return out
}

// applyChanges moves a finding's entries and the scans' counts from old
// to now.
func applyChanges(ctx context.Context, tx projections.Tx, team, fid string, f readmodel.Doc, old, now map[string]change) error {
	if maps.Equal(old, now) {
		return nil
	}
	scans := map[string]bool{}
	for s := range old {
		scans[s] = true
	}
	for s := range now {
		scans[s] = true
	}
	for scan := range scans {
		o, hadOld := old[scan]
		n, hasNew := now[scan]
		if hadOld && hasNew && o == n {
			continue
		}
		c, err := loadDeltaCounts(ctx, tx, team, scan)
		if err != nil {
			return err
		}
		if hadOld {
			c.add(o.kind, o.severity, -1)
		}
		key := DeltaKey(team, scan, fid)
		if hasNew {
			c.add(n.kind, n.severity, 1)
			tx.Put(ScanDeltasCollection, readmodel.Doc{
				"_id": key, "team_id": team, "scan_id": scan, "finding_id": fid, "change": n.kind,
				"severity": n.severity, "severity_rank": severityRank(n.severity),
				"provider": f["provider"], "account_id": f["account_id"], "region": f["region"],
				"check_id": f["check_id"], "resource_id": f["resource_id"],
			})
		} else {
			tx.Delete(ScanDeltasCollection, key)
		}
		tx.Put(ScanDeltaCountsCollection, c.doc())
	}
	return nil
}

func severityRank(s string) int64 {
	switch csdomain.Severity(s) {
	case csdomain.SeverityCritical:
		return 4
	case csdomain.SeverityHigh:
		return 3
	case csdomain.SeverityMedium:
		return 2
	case csdomain.SeverityLow:
		return 1
	case csdomain.SeverityInformational:
		return 0
	}
	return -1
}

// The team's muting rules, as versions in force over time (in the
// delta_rules collection, one document per team).
const deltaRulesCollection = "delta_rules"

type ruleVersion struct {
	from  time.Time
	match csdomain.MuteMatch
}

type deltaRule struct {
	versions []ruleVersion // sorted by from
	ended    time.Time     // zero while in force
}

func (r *deltaRule) end(at time.Time) {
	if r.ended.IsZero() || at.Before(r.ended) {
		r.ended = at
	}
}

// inForce is the rule's match at t, if it was in force then.
func (r *deltaRule) inForce(t time.Time) (csdomain.MuteMatch, bool) {
	if !r.ended.IsZero() && !t.Before(r.ended) {
		return csdomain.MuteMatch{}, false
	}
	var m csdomain.MuteMatch
	found := false
	for _, v := range r.versions {
		if v.from.After(t) {
			break
		}
		m, found = v.match, true
	}
	return m, found
}

type teamRules map[string]*deltaRule

func (rs teamRules) mutes(s csdomain.MuteSubject, t time.Time) bool {
	for _, r := range rs {
		if m, ok := r.inForce(t); ok && m.Matches(s) {
			return true
		}
	}
	return false
}

func loadRules(ctx context.Context, tx projections.Tx, team string) (teamRules, error) {
	d, _, err := fold.Get(ctx, tx, deltaRulesCollection, Key(team, "rules"))
	if err != nil {
		return nil, err
	}
	rs := teamRules{}
	for id, v := range fold.Obj(d, "rules") {
		m, _ := v.(map[string]any)
		r := &deltaRule{ended: fold.Time(m, "ended")}
		for _, vd := range fold.Objs(m, "versions") {
			r.versions = append(r.versions, ruleVersion{from: fold.Time(vd, "from"), match: fold.MuteMatchFrom(fold.Obj(vd, "match"))})
		}
		rs[id] = r
	}
	return rs, nil
}

func updateRules(ctx context.Context, tx projections.Tx, team, id string, change func(*deltaRule)) error {
	rs, err := loadRules(ctx, tx, team)
	if err != nil {
		return err
	}
	r := rs[id]
	if r == nil {
		r = &deltaRule{}
		rs[id] = r
	}
	change(r)
	slices.SortStableFunc(r.versions, func(a, b ruleVersion) int { return a.from.Compare(b.from) })
	rules := map[string]any{}
	for rid, r := range rs {
		vs := make([]any, len(r.versions))
		for i, v := range r.versions {
			vs[i] = map[string]any{"from": readmodel.NormalizeTime(v.from), "match": fold.MuteMatchDoc(v.match)}
		}
		rules[rid] = map[string]any{"versions": vs, "ended": fold.TimeOrNil(r.ended)}
	}
	tx.Put(deltaRulesCollection, readmodel.Doc{"_id": Key(team, "rules"), "team_id": team, "rules": rules})
	return nil
}
