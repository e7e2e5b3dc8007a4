package cloudsecurity

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Cloud accounts ("cloudsecurity.accounts"): one document per team's
// account in enhanced_cloud_accounts (docs/accounts.md), the only
// accounts collection (the platform's legacy one is never written). An
// account is first seen in an import (ImportCompleted lists the accounts
// the report named, with their name, organization and tags) or registered
// by a person; people rename, tag and retire it. Beside its description
// the document holds its last scan, its open findings by severity
// (imported findings, through the projection's own copy of the lifecycle
// fold, and findings raised through the API), and its posture trend: for
// each of its last TrendScans scans, how many of its findings the scan
// reported failing.
//
// What a person said wins over what reports say: the name is the
// registered or renamed one, else the latest report's (by evaluation time:
// the document does not depend on the order imports arrive in), else the
// uid; likewise the organization and the tags.

// AccountsName is the projection's stable name.
const AccountsName = "cloudsecurity.accounts"

// Collections of the accounts projection.
const (
	AccountsCollection        = "enhanced_cloud_accounts" // one document per account (_id: the account id)
	accountFindingsCollection = "account_findings"        // per finding: its account, severity, lifecycle
	accountScansCollection    = "account_scans"           // per scan run requested through the API: its account
	accountFoldAccounts       = "account_fold_accounts"   // the lifecycle fold's accounts
	accountFoldScopes         = "account_fold_scopes"     // the lifecycle fold's scopes
)

// TrendScans is how many scans an account's posture trend keeps.
const TrendScans = 30

var accountLifecycle = fold.Lifecycle{Accounts: accountFoldAccounts, Scopes: accountFoldScopes}

// Accounts projects cloud accounts.
type Accounts struct{}

var _ projections.Projection = Accounts{}

// NewAccounts returns the "cloudsecurity.accounts" projection.
func NewAccounts() Accounts { return Accounts{} }

// Name implements projections.Projection.
func (Accounts) Name() string { return AccountsName }

// Database implements projections.Projection.
func (Accounts) Database() dbregistry.Constant { return dbregistry.CLOUD_SECURITY }

// EventTypes implements projections.Projection.
func (Accounts) EventTypes() []string {
	return []string{
		csdomain.CloudAccountRegistered{}.EventType(),
		csdomain.CloudAccountRenamed{}.EventType(),
		csdomain.CloudAccountTagged{}.EventType(),
		csdomain.CloudAccountRetired{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(),
		csdomain.ImportCompleted{}.EventType(),
		csdomain.FindingRaised{}.EventType(),
		csdomain.FindingResolved{}.EventType(),
		orchdomain.ScanRequested{}.EventType(),
	}
}

// Collections implements projections.Projection. The list is ordered by
// name (then _id); its filters are provider and status.
func (Accounts) Collections() []readmodel.CollectionSpec {
	ix := func(name string, fields ...string) readmodel.Index {
		i := readmodel.Index{Name: name, Fields: []readmodel.IndexField{{Path: "team_id"}}}
		for _, f := range fields {
			i.Fields = append(i.Fields, readmodel.IndexField{Path: f})
		}
		return i
	}
	return append([]readmodel.CollectionSpec{{
		Name: AccountsCollection,
		Indexes: []readmodel.Index{
			ix("by_team_name", "name"),
			ix("by_team_provider_name", "provider", "name"),
			ix("by_team_status_name", "status", "name"),
			ix("by_team_provider_status_name", "provider", "status", "name"),
		},
	}, {
		// Read by _id only: no index (decision 109).
		Name: accountFindingsCollection, SmallDocs: true,
	}, {
		Name: accountScansCollection, Indexes: []readmodel.Index{ix("by_team")},
	}}, accountLifecycle.CollectionSpecs()...)
}

// Apply implements projections.Projection.
func (Accounts) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if err := applyAccounts(ctx, tx, ev); err != nil {
		return fmt.Errorf("%s: %w", AccountsName, err)
	}
	return nil
}

func applyAccounts(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.CloudAccountRegistered:
		return changeAccount(ctx, tx, team, e.AccountID, func(d readmodel.Doc) {
			d["provider"], d["uid"] = e.Provider, e.UID
			d["registered"], d["registered_at"] = true, readmodel.NormalizeTime(e.RegisteredAt)
			d["given_name"], d["given_organization"] = e.Name, e.Organization
			d["given_tags"], d["has_given_tags"] = fold.TagsDoc(e.Tags), len(e.Tags) > 0
		})
	case csdomain.CloudAccountRenamed:
		return changeAccount(ctx, tx, team, e.AccountID, func(d readmodel.Doc) { d["given_name"] = e.Name })
	case csdomain.CloudAccountTagged:
		return changeAccount(ctx, tx, team, e.AccountID, func(d readmodel.Doc) {
			d["given_tags"], d["has_given_tags"] = fold.TagsDoc(e.Tags), true
		})
	case csdomain.CloudAccountRetired:
		return changeAccount(ctx, tx, team, e.AccountID, func(d readmodel.Doc) {
			d["retired_at"], d["retire_reason"] = readmodel.NormalizeTime(e.RetiredAt), e.Reason
		})
	case csdomain.ResultsRecorded:
		if err := trendResults(ctx, tx, team, e); err != nil {
			return err
		}
		h := newAccountHistories()
		if err := accountLifecycle.Results(ctx, tx, team, e, h); err != nil {
			return err
		}
		return h.flush(ctx, tx, team)
	case csdomain.ImportCompleted:
		if err := accountsSeen(ctx, tx, team, e); err != nil {
			return err
		}
		h := newAccountHistories()
		if err := accountLifecycle.Completed(ctx, tx, team, e, h); err != nil {
			return err
		}
		return h.flush(ctx, tx, team)
	case orchdomain.ScanRequested:
		tx.Put(accountScansCollection, readmodel.Doc{"_id": e.ScanID, "team_id": team,
			"provider": string(e.Provider), "uid": e.AccountID})
		return nil
	case csdomain.FindingRaised:
		return apiFindingRaised(ctx, tx, team, e)
	case csdomain.FindingResolved:
		return findingResolved(ctx, tx, ev, e)
	}
	return nil
}

// loadAccount reads account id of team, or a new document.
func loadAccount(ctx context.Context, tx projections.Tx, team, id string) (readmodel.Doc, error) {
	d, found, err := fold.Get(ctx, tx, AccountsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "provider": "", "uid": "", "registered": false,
			"open_total": int64(0), "open_by_severity": fold.SeverityCounts{}.Doc(), "open_muted_by_tool": int64(0),
			"trend": []any{}, "pending_trend": []any{}}
	}
	return d, nil
}

// changeAccount applies change to the account's document and derives
// what it shows.
func changeAccount(ctx context.Context, tx projections.Tx, team, id string, change func(readmodel.Doc)) error {
	d, err := loadAccount(ctx, tx, team, id)
	if err != nil {
		return err
	}
	change(d)
	tx.Put(AccountsCollection, shown(d))
	return nil
}

// shown sets what the document shows from what people and reports said.
func shown(d readmodel.Doc) readmodel.Doc {
	d["name"] = firstOf(fold.Str(d, "given_name"), fold.Str(d, "reported_name"), fold.Str(d, "uid"))
	d["organization"] = firstOf(fold.Str(d, "given_organization"), fold.Str(d, "reported_organization"))
	if fold.Flag(d, "has_given_tags") {
		d["tags"] = d["given_tags"]
	} else if t, ok := d["reported_tags"]; ok {
		d["tags"] = t
	} else {
		d["tags"] = []any{}
	}
	d["status"] = csdomain.AccountActive
	if !fold.Time(d, "retired_at").IsZero() {
		d["status"] = csdomain.AccountRetired
	}
	return d
}

func firstOf(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// stepLater reports whether step (at, scan) comes after the one stored
// under prefix in d (none stored: true).
func stepLater(d readmodel.Doc, prefix string, at time.Time, scan string) bool {
	was := fold.Time(d, prefix+"_at")
	return was.IsZero() || csdomain.Step{At: was, Scan: fold.Str(d, prefix+"_scan")}.Before(csdomain.Step{At: at, Scan: scan})
}

func setStep(d readmodel.Doc, prefix string, at time.Time, scan string) {
	d[prefix+"_at"], d[prefix+"_scan"] = readmodel.NormalizeTime(at), scan
}

// trendResults counts a chunk's failing results per account under the
// scan's pending trend entry (completed by the scan's completion).
func trendResults(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	failing := map[string]int64{}
	var order []string
	ids := map[string][2]string{}
	for i := range e.Results {
		r := &e.Results[i]
		id := csdomain.AccountID(team, r.Provider, r.Account)
		if _, ok := ids[id]; !ok {
			ids[id] = [2]string{r.Provider, r.Account}
			order = append(order, id)
		}
		if r.Result == csdomain.ResultFail {
			failing[id]++
		}
	}
	for _, id := range order {
		d, err := loadAccount(ctx, tx, team, id)
		if err != nil {
			return err
		}
		d["provider"], d["uid"] = ids[id][0], ids[id][1]
		pending := fold.Objs(d, "pending_trend")
		i := slices.IndexFunc(pending, func(p map[string]any) bool { return fold.Str(p, "scan_id") == e.ScanID })
		if i < 0 {
			pending = append(pending, map[string]any{"scan_id": e.ScanID, "at": readmodel.NormalizeTime(e.EvaluatedAt), "failing": int64(0)})
			i = len(pending) - 1
		}
		pending[i]["failing"] = fold.Num(pending[i], "failing") + failing[id]
		d["pending_trend"] = objsAny(pending)
		tx.Put(AccountsCollection, shown(d))
	}
	return nil
}

// accountsSeen records what a completed import saw of each account: its
// first and last scan, the report's description (the latest evaluation's
// stands), and the scan's trend entry.
func accountsSeen(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportCompleted) error {
	described := map[string]csdomain.AccountSeen{}
	for _, a := range e.Accounts {
		described[csdomain.AccountID(team, a.Provider, a.UID)] = a
	}
	seen := map[string][2]string{}
	var order []string
	for _, s := range e.Scopes {
		id := csdomain.AccountID(team, s.Provider, s.Account)
		if _, ok := seen[id]; !ok {
			seen[id] = [2]string{s.Provider, s.Account}
			order = append(order, id)
		}
	}
	for _, a := range e.Accounts {
		id := csdomain.AccountID(team, a.Provider, a.UID)
		if _, ok := seen[id]; !ok {
			seen[id] = [2]string{a.Provider, a.UID}
			order = append(order, id)
		}
	}
	at := e.EvaluatedAt
	for _, id := range order {
		d, err := loadAccount(ctx, tx, team, id)
		if err != nil {
			return err
		}
		d["provider"], d["uid"] = seen[id][0], seen[id][1]
		if first := fold.Time(d, "first_seen"); first.IsZero() || at.Before(first) {
			d["first_seen"] = readmodel.NormalizeTime(at)
		}
		if stepLater(d, "last_scan", at, e.ScanID) {
			setStep(d, "last_scan", at, e.ScanID)
			d["last_seen"] = readmodel.NormalizeTime(at)
		}
		if a, ok := described[id]; ok {
			if a.Name != "" && stepLater(d, "reported_name", at, e.ScanID) {
				d["reported_name"] = a.Name
				setStep(d, "reported_name", at, e.ScanID)
			}
			if a.Organization != "" && stepLater(d, "reported_organization", at, e.ScanID) {
				d["reported_organization"] = a.Organization
				setStep(d, "reported_organization", at, e.ScanID)
			}
			if len(a.Tags) > 0 && stepLater(d, "reported_tags", at, e.ScanID) {
				d["reported_tags"] = fold.TagsDoc(a.Tags)
				setStep(d, "reported_tags", at, e.ScanID)
			}
		}
		completeTrend(d, e.ScanID, at)
		tx.Put(AccountsCollection, shown(d))
	}
	return nil
}

// completeTrend moves the scan's pending trend entry (none: it reported
// nothing failing in the account) into the trend, which keeps the latest
// TrendScans scans by evaluation time (then scan id): the same scans
// whatever order they arrive in.
func completeTrend(d readmodel.Doc, scan string, at time.Time) {
	entry := map[string]any{"scan_id": scan, "at": readmodel.NormalizeTime(at), "failing": int64(0)}
	pending := fold.Objs(d, "pending_trend")
	if i := slices.IndexFunc(pending, func(p map[string]any) bool { return fold.Str(p, "scan_id") == scan }); i >= 0 {
		entry["failing"] = fold.Num(pending[i], "failing")
		pending = slices.Delete(pending, i, i+1)
	}
	d["pending_trend"] = objsAny(pending)
	trend := fold.Objs(d, "trend")
	step := func(m map[string]any) csdomain.Step {
		return csdomain.Step{At: fold.Time(m, "at"), Scan: fold.Str(m, "scan_id")}
	}
	if slices.ContainsFunc(trend, func(m map[string]any) bool { return fold.Str(m, "scan_id") == scan }) {
		return
	}
	trend = append(trend, entry)
	slices.SortFunc(trend, func(a, b map[string]any) int {
		switch {
		case step(a).Before(step(b)):
			return -1
		case step(b).Before(step(a)):
			return 1
		}
		return 0
	})
	if len(trend) > TrendScans {
		trend = trend[len(trend)-TrendScans:]
	}
	d["trend"] = objsAny(trend)
}

func objsAny(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// contribution is what a finding adds to its account's open counts.
type contribution struct {
	open     bool
	severity string
	muted    bool
}

func contributionOf(d readmodel.Doc) contribution {
	return contribution{open: fold.Flag(d, "open"), severity: fold.Str(d, "severity"), muted: fold.Flag(d, "muted_by_tool")}
}

// openDelta is how an account's open counts move.
type openDelta struct {
	bySev        fold.SeverityCounts
	total, muted int64
}

func (o *openDelta) add(c contribution, n int64) {
	if !c.open {
		return
	}
	o.bySev.Add(c.severity, n)
	o.total += n
	if c.muted {
		o.muted += n
	}
}

// count moves the account's open counts from before to after, at once.
func count(ctx context.Context, tx projections.Tx, team, accountID string, before, after contribution) error {
	h := newAccountHistories()
	h.move(accountID, before, after)
	return h.flush(ctx, tx, team)
}

// accountHistories keeps imported findings' histories in the
// account_findings documents and collects how their accounts' open counts
// move: written once per account and event (flush), not per finding.
type accountHistories struct {
	deltas map[string]*openDelta
}

func newAccountHistories() *accountHistories {
	return &accountHistories{deltas: map[string]*openDelta{}}
}

func (h *accountHistories) move(accountID string, before, after contribution) {
	if before == after {
		return
	}
	d := h.deltas[accountID]
	if d == nil {
		d = &openDelta{}
		h.deltas[accountID] = d
	}
	d.add(before, -1)
	d.add(after, 1)
}

// flush applies the collected moves to the accounts' documents.
func (h *accountHistories) flush(ctx context.Context, tx projections.Tx, team string) error {
	for _, id := range slices.Sorted(maps.Keys(h.deltas)) {
		o := h.deltas[id]
		if *o == (openDelta{}) {
			continue
		}
		d, err := loadAccount(ctx, tx, team, id)
		if err != nil {
			return err
		}
		sev := fold.SeverityCountsFrom(fold.Obj(d, "open_by_severity"))
		sev.Critical += o.bySev.Critical
		sev.High += o.bySev.High
		sev.Medium += o.bySev.Medium
		sev.Low += o.bySev.Low
		sev.Informational += o.bySev.Informational
		d["open_by_severity"] = sev.Doc()
		d["open_total"] = fold.Num(d, "open_total") + o.total
		d["open_muted_by_tool"] = fold.Num(d, "open_muted_by_tool") + o.muted
		tx.Put(AccountsCollection, shown(d))
	}
	clear(h.deltas)
	return nil
}

func (*accountHistories) History(ctx context.Context, tx projections.Tx, id string) (csdomain.History, bool, error) {
	d, found, err := fold.Get(ctx, tx, accountFindingsCollection, id)
	if err != nil || !found {
		return csdomain.History{}, false, err
	}
	return fold.HistoryFrom(fold.Obj(d, "history")), true, nil
}

func (h *accountHistories) Save(ctx context.Context, tx projections.Tx, c fold.Change) error {
	d, found, err := fold.Get(ctx, tx, accountFindingsCollection, c.ID)
	if err != nil {
		return err
	}
	if !found {
		if c.Result == nil {
			return nil
		}
		s := c.Identity.Scope
		d = readmodel.Doc{"_id": c.ID, "team_id": c.Team, "source": SourceImport,
			"provider": s.Provider, "uid": s.Account, "region": s.Region, "check": s.Check}
	}
	before := contributionOf(d)
	if r := c.Result; r != nil && !fold.Time(d, "attributes_at").After(r.ObservedAt) {
		d["attributes_at"] = readmodel.NormalizeTime(r.ObservedAt)
		d["severity"], d["muted_by_tool"] = string(r.Severity), r.Muted
	}
	d["history"] = fold.HistoryDoc(c.After)
	d["open"] = c.After.Summarize().Status == csdomain.LifecycleOpen
	tx.Put(accountFindingsCollection, fold.OmitEmpty(d))
	h.move(findingAccount(d), before, contributionOf(d))
	return nil
}

// apiFindingRaised counts a finding raised through the API on its scan's
// account (the provider is the scan's; "other" when the scan is unknown).
func apiFindingRaised(ctx context.Context, tx projections.Tx, team string, e csdomain.FindingRaised) error {
	if _, found, err := fold.Get(ctx, tx, accountFindingsCollection, e.FindingID); err != nil || found {
		return err
	}
	provider := string(orchdomain.ProviderOther)
	if s, found, err := fold.Get(ctx, tx, accountScansCollection, e.ScanID); err != nil {
		return err
	} else if found && fold.Str(s, "team_id") == team {
		provider = fold.Str(s, "provider")
	}
	id := csdomain.AccountID(team, provider, e.AccountID)
	d := readmodel.Doc{"_id": e.FindingID, "team_id": team, // source: SourceAPI, left out (findingSource)
		"provider": provider, "uid": e.AccountID, "open": true, "severity": string(e.Severity)}
	tx.Put(accountFindingsCollection, d)
	acc, err := loadAccount(ctx, tx, team, id)
	if err != nil {
		return err
	}
	if fold.Str(acc, "uid") == "" {
		acc["provider"], acc["uid"] = provider, e.AccountID
		tx.Put(AccountsCollection, shown(acc))
	}
	return count(ctx, tx, team, id, contribution{}, contributionOf(d))
}

// findingResolved closes a finding raised through the API, or is a step of
// an imported finding's lifecycle (a person resolved it).
func findingResolved(ctx context.Context, tx projections.Tx, ev projections.Event, e csdomain.FindingResolved) error {
	team := ev.Metadata.TeamID
	d, found, err := fold.Get(ctx, tx, accountFindingsCollection, e.FindingID)
	if err != nil || !found || fold.Str(d, "team_id") != team {
		return err
	}
	if findingSource(d) == SourceImport {
		s := csdomain.Scope{Provider: fold.Str(d, "provider"), Account: fold.Str(d, "uid"),
			Region: fold.Str(d, "region"), Check: fold.Str(d, "check")}
		h := newAccountHistories()
		if err := accountLifecycle.Resolve(ctx, tx, team, s, e.FindingID, csdomain.Step{At: e.ResolvedAt, By: ev.Metadata.Actor}, h); err != nil {
			return err
		}
		return h.flush(ctx, tx, team)
	}
	before := contributionOf(d)
	d["open"] = false
	tx.Put(accountFindingsCollection, fold.OmitEmpty(d))
	return count(ctx, tx, team, findingAccount(d), before, contributionOf(d))
}

// The account_findings documents keep only what no other of their fields
// gives (decision 109): the account's id is derived from the team, the
// provider and the uid, as the accounts' own ids are; a document without
// a source is a finding raised through the API; empty fields and false
// flags are left out (fold.OmitEmpty). Documents written before keep
// their account and source fields, which read the same.

// findingAccount is the id of the account an account_findings document
// counts on.
func findingAccount(d readmodel.Doc) string {
	if id := fold.Str(d, "account"); id != "" {
		return id
	}
	return csdomain.AccountID(fold.Str(d, "team_id"), fold.Str(d, "provider"), fold.Str(d, "uid"))
}

// findingSource is where an account_findings document's finding came from.
func findingSource(d readmodel.Doc) string {
	if s := fold.Str(d, "source"); s != "" {
		return s
	}
	return SourceAPI
}
