package fold

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// Lifecycle folds imports' results into finding histories (the domain's
// lifecycle fold, domain/cloudsecurity/lifecycle.go), for every projection
// that shows the lifecycle of imported findings (the findings read model,
// the scans' deltas). It keeps two kinds of documents in the projection's
// own database, beside the projection's documents that hold the histories:
//
//   - one per account (collection Accounts): the account's evaluations
//     (scan, time, which regions and checks it evaluated, as indexes into
//     de-duplicated sets: a daily scan costs a few bytes), and which of its
//     scopes hold findings. A scope's timeline is the evaluations that
//     covered it.
//   - one per scope that holds findings (collection Scopes): its findings,
//     which of them are open, and its pending scans: the scans whose
//     results reported failures in the scope but whose completion has not
//     been folded yet, each with the findings it reported failing.
//
// The results of a chunk are folded as they come (failing results open or
// extend a finding's run); the completion folds what the scan did not
// report: every finding of an evaluated scope that the evaluation did not
// report failing is told so (which fixes the open ones, or places the scan
// between runs when it is older than the scope's latest evaluation).
//
// Imports of one scope may interleave (A's results, B's results, then the
// completions in either order). A scan with failing results in a scope
// evaluated it (it holds a result of the check and one in the region), so
// the scope's timeline is its completed evaluations and its pending scans;
// and the completion of a scan skips exactly the findings the scan's
// results reported failing (kept in the pending entry), never the findings
// whose runs merely span it: a run built before the scan was known may
// cover it without the scan having reported the finding. Both make the
// folded runs those of the scans folded one after the other, whatever the
// order (TestImportedFindings_InterleavedScansOfOneScope).
type Lifecycle struct {
	Accounts string // collection of account documents (and one per team listing its accounts)
	Scopes   string // collection of scope documents
}

// Histories is where a projection keeps the finding histories the fold
// updates, in documents of its own shape.
type Histories interface {
	// History returns the finding's history (an empty one when the
	// finding is new; found reports which).
	History(ctx context.Context, tx projections.Tx, id string) (h csdomain.History, found bool, err error)
	// Save records a finding's history after a step.
	Save(ctx context.Context, tx projections.Tx, c Change) error
}

// Change is what a step did to one finding's history.
type Change struct {
	ID, Team string
	// Identity of the finding: whole when Result is set, its scope only
	// otherwise.
	Identity      csdomain.Identity
	Before, After csdomain.History
	// Step is the evaluation (or resolution) that caused the change, and
	// Result the result of it that reported the finding failing, nil for
	// a step that did not (a fix, a resolution).
	Step   csdomain.Step
	Result *csdomain.CheckResult
}

// CollectionSpecs are the fold's collections with their indexes.
func (l Lifecycle) CollectionSpecs() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: l.Accounts, Indexes: []readmodel.Index{{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}}}}},
		{Name: l.Scopes, Indexes: []readmodel.Index{{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}}}}},
	}
}

// Results folds a chunk of an import's results: every failing result
// opens or extends its finding's run at the chunk's evaluation.
func (l Lifecycle) Results(ctx context.Context, tx projections.Tx, team string, ev csdomain.ResultsRecorded, h Histories) error {
	e := ev.Step()
	accounts := map[string]*accountDoc{}
	scopes := map[string]*scopeDoc{}
	timelines := map[string]csdomain.Timeline{} // by scope id: a chunk holds many results of a scope
	for i := range ev.Results {
		r := &ev.Results[i]
		if r.Result != csdomain.ResultFail {
			continue
		}
		id := r.Identity(ev.IdentityRule)
		acc, err := l.account(ctx, tx, accounts, team, id.Provider, id.Account)
		if err != nil {
			return err
		}
		sc, err := l.scope(ctx, tx, scopes, team, id.Scope)
		if err != nil {
			return err
		}
		completed := acc.evaluated(e)
		tl, ok := timelines[sc.ID]
		if !ok {
			tl = sc.withPending(acc.timeline(id.Region, id.Check, &e))
			timelines[sc.ID] = tl
		}
		fid := id.FindingID(team)
		if !completed { // a chunk folded again after its completion adds nothing pending
			sc.addPending(e, fid)
		}
		hist, _, err := h.History(ctx, tx, fid)
		if err != nil {
			return err
		}
		before := cloneHistory(hist)
		hist.Observe(e, true, tl)
		sc.add(fid, hist.Summarize().Status == csdomain.LifecycleOpen)
		acc.addScope(id.Region, id.Check)
		if err := h.Save(ctx, tx, Change{ID: fid, Team: team, Identity: id, Before: before, After: hist, Step: e, Result: r}); err != nil {
			return err
		}
	}
	for _, a := range accounts {
		tx.Put(l.Accounts, a.doc())
		if err := l.addToTeam(ctx, tx, team, a.ID); err != nil {
			return err
		}
	}
	for _, s := range scopes {
		tx.Put(l.Scopes, s.doc())
	}
	return nil
}

// teamDocID is the document of a team listing its accounts (in the
// Accounts collection: ids of account documents start "scp-").
func teamDocID(team string) string { return "team/" + csdomain.Scope{}.ID(team) }

func (l Lifecycle) addToTeam(ctx context.Context, tx projections.Tx, team, accountDocID string) error {
	id := teamDocID(team)
	d, _, err := Get(ctx, tx, l.Accounts, id)
	if err != nil {
		return err
	}
	ids := Strs(d, "accounts")
	i, found := slices.BinarySearch(ids, accountDocID)
	if found {
		return nil
	}
	ids = slices.Insert(ids, i, accountDocID)
	tx.Put(l.Accounts, readmodel.Doc{"_id": id, "team_id": team, "kind": "team", "accounts": stringsAny(ids)})
	return nil
}

// Members lists the findings of team's scopes that keep (nil: all), in a
// stable order.
func (l Lifecycle) Members(ctx context.Context, tx projections.Tx, team string, keep func(csdomain.Scope) bool) ([]string, error) {
	t, _, err := Get(ctx, tx, l.Accounts, teamDocID(team))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, accID := range Strs(t, "accounts") {
		a, _, err := Get(ctx, tx, l.Accounts, accID)
		if err != nil {
			return nil, err
		}
		provider, account := Str(a, "provider"), Str(a, "account")
		for _, key := range Strs(a, "scopes") {
			region, check := splitScopeKey(key)
			s := csdomain.Scope{Provider: provider, Account: account, Region: region, Check: check}
			if keep != nil && !keep(s) {
				continue
			}
			sc, _, err := Get(ctx, tx, l.Scopes, s.ID(team))
			if err != nil {
				return nil, err
			}
			out = append(out, Strs(sc, "members")...)
		}
	}
	return out, nil
}

// Completed folds what the completed import did not report: its
// evaluation joins the timelines of every scope it evaluated, and each
// finding of those scopes that it did not report failing is told so.
func (l Lifecycle) Completed(ctx context.Context, tx projections.Tx, team string, ev csdomain.ImportCompleted, h Histories) error {
	e := ev.Step()
	accounts := map[string]*accountDoc{}
	scopes := map[string]*scopeDoc{}
	for _, es := range ev.Scopes {
		acc, err := l.account(ctx, tx, accounts, team, es.Provider, es.Account)
		if err != nil {
			return err
		}
		if acc.evaluated(e) {
			continue // folded already (a redelivery): its pending entries are gone
		}
		acc.addEvaluation(e, es.Regions, es.Checks)
		regions, checks := setOf(es.Regions), setOf(es.Checks)
		for _, key := range acc.Scopes {
			region, check := splitScopeKey(key)
			if !regions[region] || (!checks[check] && !checks[csdomain.AllChecks]) { // AllChecks: the whole target (decision 59)
				continue
			}
			s := csdomain.Scope{Provider: es.Provider, Account: es.Account, Region: region, Check: check}
			sc, err := l.scope(ctx, tx, scopes, team, s)
			if err != nil {
				return err
			}
			tl := sc.withPending(acc.timeline(region, check, nil))
			reported := sc.takePending(e) // what the scan reported failing here
			candidates := sc.Open
			if last := tl[len(tl)-1]; !last.Same(e) {
				candidates = sc.Members // an older scan: it may fall inside any run
			}
			for _, fid := range slices.Clone(candidates) {
				if _, failing := slices.BinarySearch(reported, fid); failing {
					continue
				}
				hist, found, err := h.History(ctx, tx, fid)
				if err != nil {
					return err
				}
				if !found {
					continue
				}
				before := cloneHistory(hist)
				if !hist.Observe(e, false, tl) {
					continue
				}
				sc.add(fid, hist.Summarize().Status == csdomain.LifecycleOpen)
				if err := h.Save(ctx, tx, Change{ID: fid, Team: team, Identity: csdomain.Identity{Scope: s}, Before: before, After: hist, Step: e}); err != nil {
					return err
				}
			}
			tx.Put(l.Scopes, sc.doc())
		}
		tx.Put(l.Accounts, acc.doc())
	}
	return nil
}

// Resolve records a person's resolution of finding fid (of scope s) at m.
func (l Lifecycle) Resolve(ctx context.Context, tx projections.Tx, team string, s csdomain.Scope, fid string, m csdomain.Step, h Histories) error {
	hist, found, err := h.History(ctx, tx, fid)
	if err != nil || !found {
		return err
	}
	acc, err := l.account(ctx, tx, map[string]*accountDoc{}, team, s.Provider, s.Account)
	if err != nil {
		return err
	}
	sc, err := l.scope(ctx, tx, map[string]*scopeDoc{}, team, s)
	if err != nil {
		return err
	}
	before := cloneHistory(hist)
	if !hist.Resolve(m, sc.withPending(acc.timeline(s.Region, s.Check, nil))) {
		return nil
	}
	sc.add(fid, hist.Summarize().Status == csdomain.LifecycleOpen)
	tx.Put(l.Scopes, sc.doc())
	return h.Save(ctx, tx, Change{ID: fid, Team: team, Identity: csdomain.Identity{Scope: s}, Before: before, After: hist, Step: m})
}

func cloneHistory(h csdomain.History) csdomain.History {
	c := csdomain.History{Runs: slices.Clone(h.Runs), Resolutions: slices.Clone(h.Resolutions)}
	for i, r := range c.Runs {
		if r.Fix != nil {
			f := *r.Fix
			c.Runs[i].Fix = &f
		}
	}
	return c
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// A scope key inside an account: region and check, separated by a unit
// separator (neither holds control characters).
func scopeKey(region, check string) string { return region + "\x1f" + check }

func splitScopeKey(k string) (region, check string) {
	region, check, _ = strings.Cut(k, "\x1f")
	return region, check
}

// accountDoc is an account's evaluations and the scopes holding findings.
// The region and check sets the evaluations name are kept once each,
// keyed by a digest of their content (so the document does not depend on
// the order evaluations were learnt in).
type accountDoc struct {
	ID, TeamID, Provider, Account string
	Evaluations                   []evaluation // sorted by step
	Sets                          map[string][]string
	Scopes                        []string // sorted scope keys
}

type evaluation struct {
	Step          csdomain.Step
	Regions, Chks string // keys into Sets
}

func accountID(team, provider, account string) string {
	return csdomain.Scope{Provider: provider, Account: account}.ID(team)
}

func (l Lifecycle) account(ctx context.Context, tx projections.Tx, cache map[string]*accountDoc, team, provider, account string) (*accountDoc, error) {
	id := accountID(team, provider, account)
	if a := cache[id]; a != nil {
		return a, nil
	}
	d, _, err := Get(ctx, tx, l.Accounts, id)
	if err != nil {
		return nil, err
	}
	a := &accountDoc{ID: id, TeamID: team, Provider: provider, Account: account, Scopes: Strs(d, "scopes"), Sets: map[string][]string{}}
	for k, v := range Obj(d, "sets") {
		a.Sets[k] = anyStrings(v)
	}
	for _, e := range Objs(d, "evaluations") {
		a.Evaluations = append(a.Evaluations, evaluation{
			Step:    csdomain.Step{At: Time(e, "at"), Scan: Str(e, "scan")},
			Regions: Str(e, "regions"), Chks: Str(e, "checks"),
		})
	}
	cache[id] = a
	return a, nil
}

// timeline is the evaluations of the account that covered region × check,
// plus extra (an evaluation known to cover it: a scan whose results are
// being folded before its completion names its scope).
func (a *accountDoc) timeline(region, check string, extra *csdomain.Step) csdomain.Timeline {
	var tl csdomain.Timeline
	for _, e := range a.Evaluations {
		if _, ok := slices.BinarySearch(a.Sets[e.Regions], region); !ok {
			continue
		}
		if _, ok := slices.BinarySearch(a.Sets[e.Chks], check); ok {
			tl = append(tl, e.Step)
		} else if _, all := slices.BinarySearch(a.Sets[e.Chks], csdomain.AllChecks); all {
			tl = append(tl, e.Step) // a scan of the whole target (decision 59)
		}
	}
	if extra != nil {
		tl.Insert(*extra)
	}
	return tl
}

// evaluated reports whether the completion of e was folded.
func (a *accountDoc) evaluated(e csdomain.Step) bool {
	_, found := slices.BinarySearchFunc(a.Evaluations, e, func(x evaluation, s csdomain.Step) int {
		switch {
		case x.Step.Before(s):
			return -1
		case s.Before(x.Step):
			return 1
		}
		return 0
	})
	return found
}

func (a *accountDoc) addEvaluation(e csdomain.Step, regions, checks []string) {
	i, found := slices.BinarySearchFunc(a.Evaluations, e, func(x evaluation, s csdomain.Step) int {
		switch {
		case x.Step.Before(s):
			return -1
		case s.Before(x.Step):
			return 1
		}
		return 0
	})
	if found {
		return
	}
	a.Evaluations = slices.Insert(a.Evaluations, i, evaluation{Step: e, Regions: a.set(regions), Chks: a.set(checks)})
}

// set stores a sorted set once and returns its key.
func (a *accountDoc) set(xs []string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	s = slices.Compact(s)
	k := setKey(s)
	if _, ok := a.Sets[k]; !ok {
		a.Sets[k] = s
	}
	return k
}

func setKey(s []string) string {
	h := sha256.New()
	for _, x := range s {
		h.Write([]byte(x))
		h.Write([]byte{0})
	}
	return "s" + hex.EncodeToString(h.Sum(nil))[:16]
}

func (a *accountDoc) addScope(region, check string) {
	k := scopeKey(region, check)
	if i, found := slices.BinarySearch(a.Scopes, k); !found {
		a.Scopes = slices.Insert(a.Scopes, i, k)
	}
}

func (a *accountDoc) doc() readmodel.Doc {
	evs := make([]any, len(a.Evaluations))
	for i, e := range a.Evaluations {
		evs[i] = map[string]any{"at": readmodel.NormalizeTime(e.Step.At), "scan": e.Step.Scan, "regions": e.Regions, "checks": e.Chks}
	}
	sets := make(map[string]any, len(a.Sets))
	for k, v := range a.Sets {
		sets[k] = stringsAny(v)
	}
	return readmodel.Doc{
		"_id": a.ID, "team_id": a.TeamID, "provider": a.Provider, "account": a.Account,
		"evaluations": evs, "sets": sets, "scopes": stringsAny(a.Scopes),
	}
}

// scopeDoc is a scope's findings, which of them are open, and its
// pending scans.
type scopeDoc struct {
	ID, TeamID    string
	Scope         csdomain.Scope
	Members, Open []string // sorted
	Pending       []pendingScan
}

// pendingScan is a scan whose results reported failures in the scope and
// whose completion has not been folded: an evaluation of the scope, and
// the findings it reported failing there (sorted).
type pendingScan struct {
	Step    csdomain.Step
	Failing []string
}

func (s *scopeDoc) pendingIndex(e csdomain.Step) (int, bool) {
	return slices.BinarySearchFunc(s.Pending, e, func(p pendingScan, e csdomain.Step) int {
		switch {
		case p.Step.Before(e):
			return -1
		case e.Before(p.Step):
			return 1
		}
		return 0
	})
}

func (s *scopeDoc) addPending(e csdomain.Step, fid string) {
	i, found := s.pendingIndex(e)
	if !found {
		s.Pending = slices.Insert(s.Pending, i, pendingScan{Step: e})
	}
	p := &s.Pending[i]
	if j, found := slices.BinarySearch(p.Failing, fid); !found {
		p.Failing = slices.Insert(p.Failing, j, fid)
	}
}

// takePending removes e's pending entry and returns what it reported
// failing.
func (s *scopeDoc) takePending(e csdomain.Step) []string {
	i, found := s.pendingIndex(e)
	if !found {
		return nil
	}
	f := s.Pending[i].Failing
	s.Pending = slices.Delete(s.Pending, i, i+1)
	return f
}

// withPending is tl with the scope's pending scans in their places.
func (s *scopeDoc) withPending(tl csdomain.Timeline) csdomain.Timeline {
	for _, p := range s.Pending {
		tl.Insert(p.Step)
	}
	return tl
}

func (l Lifecycle) scope(ctx context.Context, tx projections.Tx, cache map[string]*scopeDoc, team string, s csdomain.Scope) (*scopeDoc, error) {
	id := s.ID(team)
	if sc := cache[id]; sc != nil {
		return sc, nil
	}
	d, _, err := Get(ctx, tx, l.Scopes, id)
	if err != nil {
		return nil, err
	}
	sc := &scopeDoc{ID: id, TeamID: team, Scope: s, Members: Strs(d, "members"), Open: Strs(d, "open")}
	for _, p := range Objs(d, "pending") {
		sc.Pending = append(sc.Pending, pendingScan{Step: stepFrom(p), Failing: Strs(p, "failing")})
	}
	cache[id] = sc
	return sc, nil
}

func (s *scopeDoc) add(fid string, open bool) {
	if i, found := slices.BinarySearch(s.Members, fid); !found {
		s.Members = slices.Insert(s.Members, i, fid)
	}
	i, found := slices.BinarySearch(s.Open, fid)
	switch {
	case open && !found:
		s.Open = slices.Insert(s.Open, i, fid)
	case !open && found:
		s.Open = slices.Delete(s.Open, i, i+1)
	}
}

func (s *scopeDoc) doc() readmodel.Doc {
	d := readmodel.Doc{
		"_id": s.ID, "team_id": s.TeamID, "provider": s.Scope.Provider, "account": s.Scope.Account,
		"region": s.Scope.Region, "check": s.Scope.Check,
		"members": stringsAny(s.Members), "open": stringsAny(s.Open),
	}
	if len(s.Pending) > 0 { // absent once every scan completed: the document is the same in any order
		ps := make([]any, len(s.Pending))
		for i, p := range s.Pending {
			m := stepDoc(p.Step)
			m["failing"] = stringsAny(p.Failing)
			ps[i] = m
		}
		d["pending"] = ps
	}
	return d
}

// HistoryDoc is the stored form of a history (a document field).
func HistoryDoc(h csdomain.History) map[string]any {
	runs := make([]any, len(h.Runs))
	for i, r := range h.Runs {
		m := map[string]any{"from": stepDoc(r.From), "to": stepDoc(r.To)}
		if r.Fix != nil {
			m["fix"] = stepDoc(*r.Fix)
		}
		runs[i] = m
	}
	res := make([]any, len(h.Resolutions))
	for i, m := range h.Resolutions {
		res[i] = stepDoc(m)
	}
	return map[string]any{"runs": runs, "resolutions": res}
}

// HistoryFrom reads a history stored by HistoryDoc.
func HistoryFrom(d map[string]any) csdomain.History {
	var h csdomain.History
	for _, r := range Objs(d, "runs") {
		run := csdomain.Run{From: stepFrom(Obj(r, "from")), To: stepFrom(Obj(r, "to"))}
		if f := Obj(r, "fix"); f != nil {
			s := stepFrom(f)
			run.Fix = &s
		}
		h.Runs = append(h.Runs, run)
	}
	for _, m := range Objs(d, "resolutions") {
		h.Resolutions = append(h.Resolutions, stepFrom(m))
	}
	return h
}

func stepDoc(s csdomain.Step) map[string]any {
	m := map[string]any{"at": readmodel.NormalizeTime(s.At)}
	if s.Scan != "" {
		m["scan"] = s.Scan
	}
	if s.By != "" {
		m["by"] = s.By
	}
	return m
}

func stepFrom(d map[string]any) csdomain.Step {
	return csdomain.Step{At: Time(d, "at"), Scan: Str(d, "scan"), By: Str(d, "by")}
}

// Arr reads an array field.
func Arr(d map[string]any, key string) []any {
	a, _ := d[key].([]any)
	return a
}

// Strs reads an array of strings.
func Strs(d map[string]any, key string) []string {
	switch l := d[key].(type) {
	case []string:
		return slices.Clone(l)
	case []any:
		return anyStrings(l)
	}
	return nil
}

func anyStrings(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = slices.Clone(l)
	}
	return out
}

func stringsAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// MuteMatchDoc is the stored form of a muting rule's match.
func MuteMatchDoc(m csdomain.MuteMatch) map[string]any {
	return map[string]any{"finding_ids": stringsAny(m.FindingIDs), "checks": stringsAny(m.Checks),
		"resources": stringsAny(m.Resources), "accounts": stringsAny(m.Accounts), "regions": stringsAny(m.Regions), "tags": TagsDoc(m.Tags)}
}

// MuteMatchFrom reads a match stored by MuteMatchDoc.
func MuteMatchFrom(d map[string]any) csdomain.MuteMatch {
	m := csdomain.MuteMatch{FindingIDs: Strs(d, "finding_ids"), Checks: Strs(d, "checks"),
		Resources: Strs(d, "resources"), Accounts: Strs(d, "accounts"), Regions: Strs(d, "regions")}
	if t := TagsFrom(d, "tags"); len(t) > 0 {
		m.Tags = t
	}
	return m
}

// TagsDoc is the stored form of tags: a list of {key, value} sorted by
// key, not a map, for tag keys ("kubernetes.io/cluster/prod") are not
// field names a document store takes.
func TagsDoc(tags map[string]string) []any {
	keys := slices.Sorted(maps.Keys(tags))
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = map[string]any{"key": k, "value": tags[k]}
	}
	return out
}

// TagsFrom reads tags stored by TagsDoc under key of d.
func TagsFrom(d map[string]any, key string) map[string]string {
	out := map[string]string{}
	for _, t := range Objs(d, key) {
		out[Str(t, "key")] = Str(t, "value")
	}
	return out
}
