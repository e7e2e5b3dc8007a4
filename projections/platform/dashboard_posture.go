package platform

import (
	"context"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The dashboard's posture section: what the imports say of a team's cloud
// security, in the dashboard document itself (one read per team). The
// Dashboard projection folds the imports' results through its own copy of
// the lifecycle fold (projections/fold.Lifecycle, in the platform
// database: a cross-module view is a projection, never a join), and keeps:
//
//   - the open imported findings by severity, by account and by check
//     (the query ranks the top failing checks), and how many of them the
//     tool muted;
//   - the new, reopened and fixed findings of the team's last scan (by
//     evaluation time), and per UTC day of the scans' evaluations over the
//     latest PostureDays days (the query sums the last 7 and 30).
//
// Every finding's contribution is recorded in its dashboard_imported row,
// so each step moves exactly what it changes; the day buckets keep the
// days within PostureDays of the latest day seen, and a change to an older
// day is dropped, which is what the window would drop anyway: the document
// is the same whatever order the imports arrive in.

// PostureDays is how many UTC days of changes the posture keeps.
const PostureDays = 45

// Collections of the posture section.
const (
	DashboardImportedCollection = "dashboard_imported"      // per imported finding: what the posture counts of it
	dashboardFoldAccounts       = "dashboard_fold_accounts" // the lifecycle fold's accounts
	dashboardFoldScopes         = "dashboard_fold_scopes"   // the lifecycle fold's scopes
)

var postureLifecycle = fold.Lifecycle{Accounts: dashboardFoldAccounts, Scopes: dashboardFoldScopes}

var postureEventTypes = append([]string{csdomain.ResultsRecorded{}.EventType(), csdomain.ImportCompleted{}.EventType()},
	complianceEventTypes...)

func postureCollections() []readmodel.CollectionSpec {
	return append(append([]readmodel.CollectionSpec{{Name: DashboardImportedCollection}}, postureLifecycle.CollectionSpecs()...),
		complianceCollections()...)
}

// applyPosture folds the imports' events; handled is false for other
// events. A person's resolution of an imported finding is a step of its
// lifecycle (and the rest of the dashboard records it too).
func applyPosture(ctx context.Context, tx projections.Tx, ev projections.Event) (handled bool, err error) {
	team := ev.Metadata.TeamID
	if team == "" {
		return false, nil
	}
	h := &postureHistories{}
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ImportStarted:
		return true, dashboardTally.Started(ctx, tx, team, e)
	case csdomain.ChecksDescribed:
		return true, dashboardTally.Checks(ctx, tx, team, e)
	case csdomain.ResultsRecorded:
		if err := postureLifecycle.Results(ctx, tx, team, e, h); err != nil {
			return true, err
		}
		if _, err := dashboardTally.Results(ctx, tx, team, e); err != nil {
			return true, err
		}
		return true, h.flush(ctx, tx, team)
	case csdomain.ImportCompleted:
		h.ops = append(h.ops, func(p *posture) { p.scanSeen(e.Step()) })
		if err := postureLifecycle.Completed(ctx, tx, team, e, h); err != nil {
			return true, err
		}
		if err := complianceEvaluated(ctx, tx, team, e, h); err != nil {
			return true, err
		}
		return true, h.flush(ctx, tx, team)
	case csdomain.FindingResolved:
		d, found, err := fold.Get(ctx, tx, DashboardImportedCollection, e.FindingID)
		if err != nil || !found || fold.Str(d, "team_id") != team {
			return false, err
		}
		s := csdomain.Scope{Provider: fold.Str(d, "provider"), Account: fold.Str(d, "account"),
			Region: fold.Str(d, "region"), Check: fold.Str(d, "check")}
		if err := postureLifecycle.Resolve(ctx, tx, team, s, e.FindingID, csdomain.Step{At: e.ResolvedAt, By: ev.Metadata.Actor}, h); err != nil {
			return false, err
		}
		return false, h.flush(ctx, tx, team)
	}
	return false, nil
}

// postureHistories keeps imported findings' histories in dashboard_imported
// rows, and collects what each step moves in the posture: applied in
// order to the dashboard document once per event (flush), not once per
// finding.
type postureHistories struct {
	ops []func(*posture)
}

// flush applies the collected moves to the team's dashboard.
func (h *postureHistories) flush(ctx context.Context, tx projections.Tx, team string) error {
	if len(h.ops) == 0 {
		return nil
	}
	dash, err := loadDashboard(ctx, tx, team)
	if err != nil {
		return err
	}
	p := postureFrom(dash.Posture)
	for _, op := range h.ops {
		op(p)
	}
	h.ops = h.ops[:0]
	dash.Posture = p.doc()
	tx.Put(DashboardCollection, dash.doc())
	return nil
}

func (*postureHistories) History(ctx context.Context, tx projections.Tx, id string) (csdomain.History, bool, error) {
	// Rows are keyed by finding id: an imported finding's id is of one
	// team ("fnd-" over the team and the identity).
	d, found, err := fold.Get(ctx, tx, DashboardImportedCollection, id)
	if err != nil || !found {
		return csdomain.History{}, false, err
	}
	return fold.HistoryFrom(fold.Obj(d, "history")), true, nil
}

// contribution is what one imported finding adds to the posture's counts.
type contribution struct {
	open                          bool
	severity                      string
	muted                         bool
	account, provider, uid, check string
}

func contributionOf(d readmodel.Doc) contribution {
	return contribution{open: fold.Flag(d, "open"), severity: fold.Str(d, "severity"), muted: fold.Flag(d, "muted_by_tool"),
		account: fold.Str(d, "account_id"), provider: fold.Str(d, "provider"), uid: fold.Str(d, "account"), check: fold.Str(d, "check")}
}

func (h *postureHistories) Save(ctx context.Context, tx projections.Tx, c fold.Change) error {
	d, found, err := fold.Get(ctx, tx, DashboardImportedCollection, c.ID)
	if err != nil {
		return err
	}
	if !found {
		if c.Result == nil {
			return nil
		}
		s := c.Identity.Scope
		d = readmodel.Doc{"_id": c.ID, "team_id": c.Team, "provider": s.Provider, "account": s.Account,
			"account_id": csdomain.AccountID(c.Team, s.Provider, s.Account), "region": s.Region, "check": s.Check,
			"open": false, "severity": "", "muted_by_tool": false}
	}
	before := contributionOf(d)
	if r := c.Result; r != nil && !fold.Time(d, "attributes_at").After(r.ObservedAt) {
		d["attributes_at"] = readmodel.NormalizeTime(r.ObservedAt)
		d["severity"], d["muted_by_tool"] = string(r.Severity), r.Muted
	}
	d["history"] = fold.HistoryDoc(c.After)
	d["open"] = c.After.Summarize().Status == csdomain.LifecycleOpen
	tx.Put(DashboardImportedCollection, d)
	after := contributionOf(d)

	moved := scanChanges(c.Before) // what each scan did to the finding, before and after the step
	now := scanChanges(c.After)
	if before == after && sameChanges(moved, now) {
		return nil
	}
	h.ops = append(h.ops, func(p *posture) {
		p.count(before, -1)
		p.count(after, 1)
		for _, scan := range sortedKeys(moved) {
			p.change(moved[scan], -1)
		}
		for _, scan := range sortedKeys(now) {
			p.change(now[scan], 1)
		}
	})
	return nil
}

// scanChange is what a scan did to a finding, and when the scan evaluated.
type scanChange struct {
	kind string // new, reopened, fixed
	step csdomain.Step
}

func scanChanges(h csdomain.History) map[string]scanChange {
	out := map[string]scanChange{}
	for i, r := range h.Runs {
		kind := csdomain.ChangeNew
		if i > 0 {
			kind = csdomain.ChangeReopened
		}
		out[r.From.Scan] = scanChange{kind: kind, step: r.From}
		if r.Fix != nil && !r.Fix.Manual() {
			out[r.Fix.Scan] = scanChange{kind: csdomain.ChangeFixed, step: *r.Fix}
		}
	}
	return out
}

func sameChanges(a, b map[string]scanChange) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.kind != v.kind || !w.step.Same(v.step) {
			return false
		}
	}
	return true
}

// scanSeen makes a completed scan the team's last scan when it is the
// latest (its changes are counted as they come: when its results came it
// was the latest then).
func (p *posture) scanSeen(s csdomain.Step) {
	if p.latest(s) {
		p.seeDay(s.At)
	}
}

// posture is the posture section of a dashboard document.
type posture struct {
	OpenTotal int64
	OpenMuted int64
	OpenBySev fold.SeverityCounts
	ByAccount map[string]*accountCounts
	ByCheck   map[string]int64
	LastScan  *changeCounts // nil before any scan
	Days      map[string]*changeCounts
	LatestDay string // the latest UTC day seen ("2006-01-02")
	// Compliance: per framework, the current evaluations' counts
	// (dashboard_compliance.go).
	Compliance map[string]*frameworkCounts
}

type accountCounts struct {
	Provider, UID string
	Total         int64
	BySev         fold.SeverityCounts
}

type changeCounts struct {
	ScanID               string
	At                   time.Time
	New, Reopened, Fixed int64
}

func (c *changeCounts) add(kind string, n int64) {
	switch kind {
	case csdomain.ChangeNew:
		c.New += n
	case csdomain.ChangeReopened:
		c.Reopened += n
	case csdomain.ChangeFixed:
		c.Fixed += n
	}
}

func (c *changeCounts) doc() map[string]any {
	return map[string]any{"new": c.New, "reopened": c.Reopened, "fixed": c.Fixed}
}

func changeCountsFrom(m map[string]any) *changeCounts {
	return &changeCounts{New: fold.Num(m, "new"), Reopened: fold.Num(m, "reopened"), Fixed: fold.Num(m, "fixed")}
}

const dayLayout = "2006-01-02"

func postureFrom(d map[string]any) *posture {
	p := &posture{OpenTotal: fold.Num(d, "open_total"), OpenMuted: fold.Num(d, "open_muted_by_tool"),
		OpenBySev: fold.SeverityCountsFrom(fold.Obj(d, "open_by_severity")),
		ByAccount: map[string]*accountCounts{}, ByCheck: map[string]int64{}, Days: map[string]*changeCounts{},
		LatestDay: fold.Str(d, "latest_day"), Compliance: complianceFrom(d)}
	for _, a := range fold.Objs(d, "by_account") {
		p.ByAccount[fold.Str(a, "account_id")] = &accountCounts{Provider: fold.Str(a, "provider"), UID: fold.Str(a, "uid"),
			Total: fold.Num(a, "open_total"), BySev: fold.SeverityCountsFrom(fold.Obj(a, "open_by_severity"))}
	}
	for _, c := range fold.Objs(d, "by_check") {
		p.ByCheck[fold.Str(c, "check_id")] = fold.Num(c, "open")
	}
	if l := fold.Obj(d, "last_scan"); l != nil {
		p.LastScan = changeCountsFrom(l)
		p.LastScan.ScanID, p.LastScan.At = fold.Str(l, "scan_id"), fold.Time(l, "at")
	}
	for _, day := range fold.Objs(d, "days") {
		p.Days[fold.Str(day, "day")] = changeCountsFrom(day)
	}
	return p
}

// emptyPosture is the section of a team without imports.
func emptyPosture() map[string]any { return (&posture{}).doc() }

func (p *posture) doc() map[string]any {
	accounts := make([]any, 0, len(p.ByAccount))
	for _, id := range sortedKeys(p.ByAccount) {
		a := p.ByAccount[id]
		accounts = append(accounts, map[string]any{"account_id": id, "provider": a.Provider, "uid": a.UID,
			"open_total": a.Total, "open_by_severity": a.BySev.Doc()})
	}
	checks := make([]any, 0, len(p.ByCheck))
	for _, c := range sortedKeys(p.ByCheck) {
		checks = append(checks, map[string]any{"check_id": c, "open": p.ByCheck[c]})
	}
	days := make([]any, 0, len(p.Days))
	for _, day := range sortedKeys(p.Days) {
		m := p.Days[day].doc()
		m["day"] = day
		days = append(days, m)
	}
	var last any
	if p.LastScan != nil {
		m := p.LastScan.doc()
		m["scan_id"], m["at"] = p.LastScan.ScanID, readmodel.NormalizeTime(p.LastScan.At)
		last = m
	}
	return map[string]any{"open_total": p.OpenTotal, "open_muted_by_tool": p.OpenMuted, "open_by_severity": p.OpenBySev.Doc(),
		"by_account": accounts, "by_check": checks, "last_scan": last, "days": days, "latest_day": p.LatestDay,
		"compliance": complianceDoc(p.Compliance)}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// count adds (n = 1) or removes (n = -1) a finding's contribution.
func (p *posture) count(c contribution, n int64) {
	if !c.open {
		return
	}
	p.OpenTotal += n
	p.OpenBySev.Add(c.severity, n)
	if c.muted {
		p.OpenMuted += n
	}
	a := p.ByAccount[c.account]
	if a == nil {
		a = &accountCounts{Provider: c.provider, UID: c.uid}
		p.ByAccount[c.account] = a
	}
	a.Total += n
	a.BySev.Add(c.severity, n)
	if a.Total == 0 {
		delete(p.ByAccount, c.account)
	}
	p.ByCheck[c.check] += n
	if p.ByCheck[c.check] == 0 {
		delete(p.ByCheck, c.check)
	}
}

// latest makes s the last scan if it is later than the current one and
// reports whether s is (now) the last scan.
func (p *posture) latest(s csdomain.Step) bool {
	if p.LastScan == nil || (csdomain.Step{At: p.LastScan.At, Scan: p.LastScan.ScanID}).Before(s) {
		p.LastScan = &changeCounts{ScanID: s.Scan, At: s.At}
	}
	return p.LastScan.ScanID == s.Scan && p.LastScan.At.Equal(s.At)
}

// change counts (n = 1) or uncounts a scan's change of a finding: in the
// last scan's counts when it is the last scan, and in its day's bucket
// when the day is within the window.
func (p *posture) change(ch scanChange, n int64) {
	if p.latest(ch.step) {
		p.LastScan.add(ch.kind, n)
	}
	day := p.seeDay(ch.step.At)
	if day == "" {
		return
	}
	b := p.Days[day]
	if b == nil {
		b = &changeCounts{}
		p.Days[day] = b
	}
	b.add(ch.kind, n)
	if b.New == 0 && b.Reopened == 0 && b.Fixed == 0 {
		delete(p.Days, day)
	}
}

// seeDay moves the window to at's UTC day if it is later, drops the days
// that leave the window, and returns at's day ("" when it is out of the
// window).
func (p *posture) seeDay(at time.Time) string {
	day := at.UTC().Format(dayLayout)
	if day > p.LatestDay {
		p.LatestDay = day
	}
	latest, _ := time.Parse(dayLayout, p.LatestDay)
	oldest := latest.AddDate(0, 0, -(PostureDays - 1)).Format(dayLayout)
	for d := range p.Days {
		if d < oldest {
			delete(p.Days, d)
		}
	}
	if day < oldest {
		return ""
	}
	return day
}
