package cloudsecurity

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// ComplianceName is the compliance projection's stable name.
const ComplianceName = "cloudsecurity.compliance"

// Collections of the compliance projection (docs/compliance.md).
const (
	// ComplianceScoresCollection: one document per (account, framework,
	// import): the evaluation's score and every requirement's status, valid
	// from at until valid_to (the next evaluation's at; null while current).
	ComplianceScoresCollection = "compliance_scores"
	// ComplianceRequirementsCollection: the requirements of each
	// evaluation (same _id as its compliance_scores document), apart so
	// that lists of scores stay small, in the compact form of
	// cloudsecurity.EncodeRequirementRows (one string).
	ComplianceRequirementsCollection = "compliance_requirements"
	// ComplianceFailingCollection: per (import, account, check), the
	// findings the import reported failing: the changes' moved findings.
	ComplianceFailingCollection = "compliance_failing"
	// ComplianceTimelinesCollection: per (account, framework), its
	// evaluations in time order (internal).
	ComplianceTimelinesCollection = "compliance_timelines"
	// ComplianceTeamCollection: per (team, framework), the current status
	// of each requirement counted over the team's accounts.
	ComplianceTeamCollection = "compliance_team_frameworks"
	// ComplianceOverviewCollection: one document per team, the current
	// counts per framework.
	ComplianceOverviewCollection = "compliance_overviews"
	// complianceWorkCollection: an import under way (internal).
	complianceWorkCollection = "compliance_work"
)

// Compliance projects imports' results into compliance scores as of every
// evaluation. It reads the results themselves, not the findings' lifecycle:
// a requirement's status in an evaluation depends on that evaluation's
// results only.
type Compliance struct{}

var _ projections.Projection = Compliance{}

// NewCompliance returns the "cloudsecurity.compliance" projection.
func NewCompliance() Compliance { return Compliance{} }

// Name implements projections.Projection.
func (Compliance) Name() string { return ComplianceName }

// Database implements projections.Projection.
func (Compliance) Database() dbregistry.Constant { return dbregistry.CLOUD_SECURITY }

// EventTypes implements projections.Projection. Muting rules are not among
// them: muting never changes compliance.
func (Compliance) EventTypes() []string {
	return []string{
		csdomain.ImportStarted{}.EventType(),
		csdomain.ChecksDescribed{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(),
		csdomain.ImportCompleted{}.EventType(),
	}
}

// Collections implements projections.Projection. Each index is the filter
// and sort of one query (queries/cloudsecurity/compliance.go).
func (Compliance) Collections() []readmodel.CollectionSpec {
	f := func(p string) readmodel.IndexField { return readmodel.IndexField{Path: p} }
	d := func(p string) readmodel.IndexField { return readmodel.IndexField{Path: p, Desc: true} }
	return []readmodel.CollectionSpec{
		{Name: ComplianceScoresCollection, Indexes: []readmodel.Index{
			// as of a time: the latest evaluation at or before it.
			{Name: "by_account_framework_at", Fields: []readmodel.IndexField{f("team_id"), f("account_id"), f("framework"), d("at"), d("seq")}},
			// as of a scan.
			{Name: "by_scan_framework", Fields: []readmodel.IndexField{f("team_id"), f("scan_id"), f("framework"), f("account_id")}},
			// the overview's accounts: the current evaluations.
			{Name: "by_current_framework", Fields: []readmodel.IndexField{f("team_id"), f("current"), f("framework"), f("account_id")}},
		}},
		{Name: ComplianceRequirementsCollection},
		{Name: ComplianceFailingCollection},
		{Name: ComplianceTimelinesCollection},
		{Name: ComplianceTeamCollection},
		{Name: ComplianceOverviewCollection},
		{Name: complianceWorkCollection},
	}
}

// Apply implements projections.Projection.
func (Compliance) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ImportStarted:
		err = complianceStarted(ctx, tx, team, e)
	case csdomain.ChecksDescribed:
		err = complianceChecks(ctx, tx, team, e)
	case csdomain.ResultsRecorded:
		err = complianceResults(ctx, tx, team, e)
	case csdomain.ImportCompleted:
		err = complianceCompleted(ctx, tx, team, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ComplianceName, err)
	}
	return nil
}

// complianceTally is the shared tally of imports' results into
// evaluations (projections/fold.ComplianceTally; the dashboard uses it too).
var complianceTally = fold.ComplianceTally{Work: complianceWorkCollection}

func complianceStarted(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportStarted) error {
	return complianceTally.Started(ctx, tx, team, e)
}

func complianceChecks(ctx context.Context, tx projections.Tx, team string, e csdomain.ChecksDescribed) error {
	return complianceTally.Checks(ctx, tx, team, e)
}

// complianceResults tallies a chunk's results of mapped checks and keeps
// the findings they report failing.
func complianceResults(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	mapped, err := complianceTally.Results(ctx, tx, team, e)
	if err != nil {
		return err
	}
	type key struct{ account, check string }
	failing := map[key][]string{}
	var order []key
	for _, r := range e.Results {
		if !mapped[r.Check] || r.Result != csdomain.ResultFail {
			continue
		}
		k := key{r.Account, r.Check}
		if _, ok := failing[k]; !ok {
			order = append(order, k)
		}
		failing[k] = append(failing[k], r.Identity(e.IdentityRule).FindingID(team))
	}
	for _, k := range order {
		id := csdomain.ComplianceFailingID(team, e.ImportID, k.account, k.check)
		d, found, err := fold.Get(ctx, tx, ComplianceFailingCollection, id)
		if err != nil {
			return err
		}
		var ids []string
		if found && fold.Str(d, "findings") != "" {
			ids = strings.Split(fold.Str(d, "findings"), "\n")
		}
		seen := make(map[string]bool, len(ids))
		for _, f := range ids {
			seen[f] = true
		}
		for _, f := range failing[k] {
			if !seen[f] { // a report may give a finding twice
				seen[f] = true
				ids = append(ids, f)
			}
		}
		tx.Put(ComplianceFailingCollection, readmodel.Doc{"_id": id, "team_id": team, "import_id": e.ImportID,
			"account_id": k.account, "check_id": k.check, "findings": strings.Join(ids, "\n"), "count": int64(len(ids))})
	}
	return nil
}

// complianceCompleted turns the import's tallies into one evaluation per
// account and framework, and places each in its timeline.
func complianceCompleted(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportCompleted) error {
	evals, err := complianceTally.Completed(ctx, tx, e)
	if err != nil {
		return err
	}
	for _, ev := range evals {
		doc := readmodel.Doc{
			"_id": csdomain.ComplianceSnapshotID(team, e.ImportID, ev.Account, ev.Framework), "team_id": team,
			"provider": ev.Provider, "account_id": ev.Account, "framework": ev.Framework,
			"import_id": e.ImportID, "scan_id": e.ScanID, "source": ev.Source, "format": ev.Format,
			"at": readmodel.NormalizeTime(ev.At), "seq": ev.Seq,
			"counts": scoreDoc(ev.Score), "score": scoreValue(ev.Score),
			"valid_to": nil, "current": false,
		}
		tx.Put(ComplianceRequirementsCollection, readmodel.Doc{"_id": doc["_id"], "team_id": team,
			"requirements": csdomain.EncodeRequirementRows(ev.Rows)})
		if err := placeSnapshot(ctx, tx, team, doc, ev.Rows); err != nil {
			return err
		}
	}
	return nil
}

func scoreDoc(s csdomain.ComplianceScore) map[string]any { return fold.ComplianceScoreDoc(s) }

func scoreFrom(m map[string]any) csdomain.ComplianceScore { return fold.ComplianceScoreFrom(m) }

func scoreValue(s csdomain.ComplianceScore) any { return fold.ComplianceScoreValue(s) }

// placeSnapshot inserts an evaluation into its account and framework's
// timeline: it is valid until the next one's time (current when there is
// none), and the one before it is valid until its time. When it becomes
// the current one, the team's counts trade the old current one for it.
// Whatever order evaluations arrive in, the timeline, the validities and
// the team's counts end the same.
func placeSnapshot(ctx context.Context, tx projections.Tx, team string, doc readmodel.Doc, rows []csdomain.RequirementRow) error {
	account, fw, id, seq := fold.Str(doc, "account_id"), fold.Str(doc, "framework"), fold.Str(doc, "_id"), fold.Str(doc, "seq")
	tlID := csdomain.ComplianceTimelineID(team, account, fw)
	tl, _, err := fold.Get(ctx, tx, ComplianceTimelinesCollection, tlID)
	if err != nil {
		return err
	}
	type entry struct {
		seq, id, source string
		at              time.Time
	}
	var entries []entry
	if tl != nil {
		for _, x := range fold.Objs(tl, "entries") {
			entries = append(entries, entry{fold.Str(x, "seq"), fold.Str(x, "id"), fold.Str(x, "source"), fold.Time(x, "at")})
		}
	}
	i, found := slices.BinarySearchFunc(entries, seq, func(e entry, s string) int { return strings.Compare(e.seq, s) })
	if found {
		return nil // this evaluation is placed already
	}
	at, source := fold.Time(doc, "at"), fold.Str(doc, "source")
	entries = slices.Insert(entries, i, entry{seq, id, source, at})
	l := make([]any, len(entries))
	for k, x := range entries {
		l[k] = map[string]any{"seq": x.seq, "id": x.id, "source": x.source, "at": x.at}
	}
	// Evaluations of the other source (findings report, compliance
	// report) near enough to be of the same scan are paired: the
	// framework page compares them (and looks only when paired).
	var paired []string
	for _, x := range entries {
		if x.source != source && x.at.Sub(at).Abs() <= csdomain.SameScanWindow {
			paired = append(paired, x.id)
		}
	}
	if len(paired) > 0 {
		doc["paired"] = true
	}
	tx.Put(ComplianceTimelinesCollection, readmodel.Doc{"_id": tlID, "team_id": team, "account_id": account, "framework": fw, "entries": l})

	if i+1 < len(entries) {
		next, ok, err := fold.Get(ctx, tx, ComplianceScoresCollection, entries[i+1].id)
		if err != nil {
			return err
		}
		if ok {
			doc["valid_to"] = next["at"]
		}
	}
	var prev readmodel.Doc
	if i > 0 {
		p, ok, err := fold.Get(ctx, tx, ComplianceScoresCollection, entries[i-1].id)
		if err != nil {
			return err
		}
		if ok {
			prev = p
			prev["valid_to"] = doc["at"]
		}
	}
	current := i == len(entries)-1
	doc["current"] = current
	if current {
		var old readmodel.Doc
		var oldRows []csdomain.RequirementRow
		if prev != nil && fold.Flag(prev, "current") {
			old = prev
			prev["current"] = false
			r, _, err := fold.Get(ctx, tx, ComplianceRequirementsCollection, prev.ID())
			if err != nil {
				return err
			}
			oldRows = csdomain.DecodeRequirementRows(fold.Str(r, "requirements"))
		}
		if err := tradeCurrent(ctx, tx, team, fw, old, oldRows, doc, rows); err != nil {
			return err
		}
	}
	if prev != nil {
		tx.Put(ComplianceScoresCollection, prev)
	}
	tx.Put(ComplianceScoresCollection, doc)
	for _, pid := range paired {
		d, ok, err := fold.Get(ctx, tx, ComplianceScoresCollection, pid)
		if err != nil {
			return err
		}
		if ok && !fold.Flag(d, "paired") {
			d["paired"] = true
			tx.Put(ComplianceScoresCollection, d)
		}
	}
	return nil
}

// tradeCurrent replaces old (nil: none) by cur among the team's current
// evaluations of framework: its per-requirement counts and its overview.
func tradeCurrent(ctx context.Context, tx projections.Tx, team, fw string, old readmodel.Doc, oldRows []csdomain.RequirementRow, cur readmodel.Doc, curRows []csdomain.RequirementRow) error {
	tfID := csdomain.ComplianceTeamFrameworkID(team, fw)
	tf, _, err := fold.Get(ctx, tx, ComplianceTeamCollection, tfID)
	if err != nil {
		return err
	}
	counts := map[string]*csdomain.TeamRequirementRow{}
	if tf != nil {
		for _, r := range csdomain.DecodeTeamRows(fold.Str(tf, "requirements")) {
			counts[r.ID] = &r
		}
	}
	apply := func(rows []csdomain.RequirementRow, sign int) {
		for _, r := range rows {
			c := counts[r.ID]
			if c == nil {
				c = &csdomain.TeamRequirementRow{ID: r.ID}
				counts[r.ID] = c
			}
			switch r.Status {
			case csdomain.RequirementPass:
				c.Pass += sign
			case csdomain.RequirementFail:
				c.Fail += sign
			case csdomain.RequirementManual:
				c.Manual += sign
			default:
				c.NotEvaluated += sign
			}
			if r.Tally.OnlyMutedFailures() {
				c.MutedFail += sign
			}
		}
	}
	accounts := int64(0)
	if tf != nil {
		accounts = fold.Num(tf, "accounts")
	}
	if old != nil {
		apply(oldRows, -1)
		accounts--
	}
	apply(curRows, 1)
	accounts++
	rows := make([]csdomain.TeamRequirementRow, 0, len(counts))
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		if c := counts[id]; c.Pass+c.Fail+c.Manual+c.NotEvaluated > 0 {
			rows = append(rows, *c)
		}
	}
	tx.Put(ComplianceTeamCollection, readmodel.Doc{"_id": tfID, "team_id": team, "framework": fw, "accounts": accounts,
		"requirements": csdomain.EncodeTeamRows(rows)})

	// The overview: the framework's counts over the current evaluations.
	ovID := csdomain.ComplianceOverviewID(team)
	ov, _, err := fold.Get(ctx, tx, ComplianceOverviewCollection, ovID)
	if err != nil {
		return err
	}
	byFw := map[string]map[string]any{}
	if ov != nil {
		for _, x := range fold.Objs(ov, "frameworks") {
			byFw[fold.Str(x, "framework")] = x
		}
	}
	entry := byFw[fw]
	var sum csdomain.ComplianceScore
	var n int64
	if entry != nil {
		sum, n = scoreFrom(fold.Obj(entry, "counts")), fold.Num(entry, "accounts")
	}
	if old != nil {
		sum.Sub(scoreFrom(fold.Obj(old, "counts")))
		n--
	}
	sum.Add(scoreFrom(fold.Obj(cur, "counts")))
	n++
	byFw[fw] = map[string]any{"framework": fw, "accounts": n, "counts": scoreDoc(sum), "score": scoreValue(sum)}
	l := make([]any, 0, len(byFw))
	for _, k := range slices.Sorted(maps.Keys(byFw)) {
		l = append(l, byFw[k])
	}
	tx.Put(ComplianceOverviewCollection, readmodel.Doc{"_id": ovID, "team_id": team, "frameworks": l})
	return nil
}
