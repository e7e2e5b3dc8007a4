package risk

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

// The computed KRIs (decision 82): the projection risk.kris folds the
// sources of the computed KRI sources into points of their own, in
// cspm_risk_management, which GET /kris/{id}/series reads as it reads a
// manual KRI's measurements.
//
// The sources are the SLA clocks: the fold of vulnerabilities.sla itself
// runs over this projection's own copies of its collections (named
// KRISLAPrefix + the SLA collection), as the dashboard's vulnerabilities
// section does, so what is open is what GET /sla/breaches says (the scope
// rule of imports: only what an import evaluated changes; the artifact's
// completed scans for occurrences; an accepted item is muted). For every
// clock the fold writes, a row records what it adds to the counts of its
// team:
//
//   - open_critical_findings/<account>: the open critical imported
//     findings of the account (module cloud_findings, status open);
//   - kev_overdue: the open occurrences (module vulnerabilities) listed in
//     KEV whose due date is at or before the point's time.
//
// A point is recorded at the source event's own time (the evaluation of
// an import, the scan, the KEV entry's publication…) when a series of a
// team the event touched has a new value (or none yet), _id the series
// and the time: events of one time (an import's chunks and completion,
// all at its evaluation) leave one point, the value after the last of
// them. The points of a series are those of every KRI of that
// source (and account): a KRI defined after the import still has its
// history.
const (
	KRIsName = "risk.kris"

	KRIPointsCollection = "kri_points"  // _id: team/series/event id
	kriCountsCollection = "kri_counts"  // _id: the team: counts and the last value of each series
	kriRowsCollection   = "kri_rows"    // _id: the clock's id: what the counts hold for it
	KRISLAPrefix        = "kris_"       // this projection's copies of the SLA fold's collections
	kevOverdueSeries    = "kev_overdue" // the series of source kev_overdue
	criticalSeries      = "open_critical_findings/"
)

// SeriesOf is the series of points a computed KRI reads ("" for a manual
// one): rdomain.SeriesOf.
func SeriesOf(source, account string) string { return rdomain.SeriesOf(source, account) }

// KRIs is the projection risk.kris.
type KRIs struct{}

var _ projections.Projection = KRIs{}

// NewKRIs returns the projection.
func NewKRIs() KRIs { return KRIs{} }

func (KRIs) Name() string                  { return KRIsName }
func (KRIs) Database() dbregistry.Constant { return dbregistry.RISK_MANAGEMENT }

// EventTypes are the SLA fold's.
func (KRIs) EventTypes() []string { return vulnproj.NewSLA().EventTypes() }

// Collections: the SLA fold's under KRISLAPrefix (without its indexes:
// nothing lists clocks from here), the points (read by team, series and
// time), the counts and rows.
func (KRIs) Collections() []readmodel.CollectionSpec {
	var out []readmodel.CollectionSpec
	for _, c := range vulnproj.NewSLA().Collections() {
		out = append(out, readmodel.CollectionSpec{Name: KRISLAPrefix + c.Name})
	}
	return append(out,
		readmodel.CollectionSpec{Name: KRIPointsCollection, Indexes: []readmodel.Index{ix("by_team_series_at", asc("team_id"), asc("series"), asc("measured_at"))}},
		readmodel.CollectionSpec{Name: kriCountsCollection},
		readmodel.CollectionSpec{Name: kriRowsCollection},
	)
}

// kriSLATx runs the SLA fold over this projection's copies and notes the
// clocks it writes.
type kriSLATx struct {
	tx     projections.Tx
	clocks map[string]bool
}

func (s *kriSLATx) Get(ctx context.Context, c, id string) (readmodel.Doc, bool, error) {
	return s.tx.Get(ctx, KRISLAPrefix+c, id)
}

func (s *kriSLATx) Put(c string, d readmodel.Doc) {
	s.tx.Put(KRISLAPrefix+c, d)
	if c == vulnproj.SLAClocksCollection {
		s.clocks[fold.Str(d, "_id")] = true
	}
}

func (s *kriSLATx) Delete(c, id string) {
	s.tx.Delete(KRISLAPrefix+c, id)
	if c == vulnproj.SLAClocksCollection {
		s.clocks[id] = true
	}
}

// sourceTime is the time of the source event: the one it carries, else
// when it was recorded.
func sourceTime(ev projections.Event) time.Time {
	var t time.Time
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ResultsRecorded:
		t = e.EvaluatedAt
	case csdomain.ImportCompleted:
		t = e.EvaluatedAt
	case vuln.ScanResultsRecorded:
		t = e.ScannedAt
	case vuln.ArtifactScanned:
		t = e.ScannedAt
	case vuln.SLAPolicySet:
		t = e.SetAt
	case ti.KEVEntryPublished:
		t = e.PublishedAt
	case ti.KEVEntryUpdated:
		t = e.UpdatedAt
	case ti.KEVEntryWithdrawn:
		t = e.WithdrawnAt
	case rdomain.RiskAccepted:
		t = e.AcceptedAt
	case rdomain.RiskAcceptanceRevoked:
		t = e.RevokedAt
	case rdomain.RiskAcceptanceExpired:
		t = e.ExpiredAt
	case rdomain.AcceptedItemFixed:
		t = e.FixedAt
	}
	if t.IsZero() {
		t = ev.RecordedAt
	}
	return readmodel.NormalizeTime(t)
}

// kriRow is what a clock adds to its team's counts.
type kriRow struct {
	Team     string
	Critical string    // the account, when an open critical finding
	KEVDue   time.Time // the due date, when an open KEV occurrence with one
}

func rowOf(d readmodel.Doc) (kriRow, bool) {
	if d == nil || fold.Str(d, "status") != vulnproj.SLAOpen {
		return kriRow{}, false
	}
	r := kriRow{Team: fold.Str(d, "team_id")}
	switch fold.Str(d, "module") {
	case vuln.SLAModuleCloudFindings:
		if fold.Str(d, "severity") == string(csdomain.SeverityCritical) {
			r.Critical = fold.Str(d, "account")
		}
	case vuln.SLAModuleVulnerabilities:
		if fold.Flag(d, "kev") {
			r.KEVDue = fold.Time(d, "due_at")
		}
	}
	if r.Critical == "" && r.KEVDue.IsZero() {
		return kriRow{}, false
	}
	return r, true
}

// kriPass caches the team documents of one event.
type kriPass struct {
	ctx     context.Context
	tx      projections.Tx
	teams   map[string]readmodel.Doc
	touched map[string]map[string]bool // team → series touched
}

func (p *kriPass) team(id string) (readmodel.Doc, error) {
	if d, ok := p.teams[id]; ok {
		return d, nil
	}
	d, found, err := fold.Get(p.ctx, p.tx, kriCountsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": id}
	}
	p.teams[id] = d
	return d, nil
}

func (p *kriPass) touch(team, series string) {
	if p.touched[team] == nil {
		p.touched[team] = map[string]bool{}
	}
	p.touched[team][series] = true
}

// add moves row r into (n = 1) or out of (n = -1) its team's counts.
func (p *kriPass) add(r kriRow, n int64) error {
	t, err := p.team(r.Team)
	if err != nil {
		return err
	}
	if r.Critical != "" {
		add(t, []string{"critical_by_account", mapKey(r.Critical)}, n)
		p.touch(r.Team, criticalSeries+r.Critical)
	}
	if !r.KEVDue.IsZero() {
		add(t, []string{"kev_due", readmodel.NormalizeTime(r.KEVDue).UTC().Format(dueKeyLayout)}, n)
		p.touch(r.Team, kevOverdueSeries)
	}
	return nil
}

// add adds n at path, dropping cells and objects that become empty (the
// document is the same whatever order the clocks moved in).
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
	next := maps.Clone(fold.Obj(m, k))
	if next == nil {
		next = map[string]any{}
	}
	add(next, path[1:], n)
	if len(next) == 0 {
		delete(m, k)
	} else {
		m[k] = next
	}
}

// clock moves what the counts hold for the clock id to what it is now.
func (p *kriPass) clock(id string) error {
	row, found, err := fold.Get(p.ctx, p.tx, kriRowsCollection, id)
	if err != nil {
		return err
	}
	var was kriRow
	had := found && fold.Flag(row, "counted")
	if had {
		was = kriRow{Team: fold.Str(row, "team_id"), Critical: fold.Str(row, "critical"), KEVDue: fold.Time(row, "kev_due")}
	}
	d, _, err := fold.Get(p.ctx, p.tx, KRISLAPrefix+vulnproj.SLAClocksCollection, id)
	if err != nil {
		return err
	}
	if team := fold.Str(d, "team_id"); team != "" {
		// The team's KEV overdue count may move with this event's time.
		if _, err := p.team(team); err != nil {
			return err
		}
		// An account with failing findings has a series, 0 without a critical one.
		if fold.Str(d, "module") == vuln.SLAModuleCloudFindings && fold.Str(d, "account") != "" {
			p.touch(team, criticalSeries+fold.Str(d, "account"))
		}
	}
	now, has := rowOf(d)
	if had == has && was.Team == now.Team && was.Critical == now.Critical && was.KEVDue.Equal(now.KEVDue) {
		return nil
	}
	if had {
		if err := p.add(was, -1); err != nil {
			return err
		}
	}
	if has {
		if err := p.add(now, 1); err != nil {
			return err
		}
		p.tx.Put(kriRowsCollection, readmodel.Doc{"_id": id, "counted": true, "team_id": now.Team,
			"critical": now.Critical, "kev_due": fold.TimeOrNil(now.KEVDue)})
	} else if found {
		p.tx.Delete(kriRowsCollection, id)
	}
	return nil
}

// value is the series' value in team document t at time at.
func value(t readmodel.Doc, series string, at time.Time) int64 {
	if series == kevOverdueSeries {
		n := int64(0)
		for due, c := range fold.Obj(t, "kev_due") {
			if d, err := time.Parse(dueKeyLayout, due); err == nil && !d.After(at) {
				n += num64(c)
			}
		}
		return n
	}
	return fold.Num(fold.Obj(t, "critical_by_account"), mapKey(series[len(criticalSeries):]))
}

// dueKeyLayout writes a due instant as a map key (no dot: the store
// refuses dots in keys).
const dueKeyLayout = "20060102T150405Z"

// mapKey is s as a key of a stored map: an account or a series may hold
// dots (a host name), which the store refuses in keys.
func mapKey(s string) string { return "k" + base64.RawURLEncoding.EncodeToString([]byte(s)) }

func num64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// Apply implements projections.Projection.
func (KRIs) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %w", KRIsName, err) }
	stx := &kriSLATx{tx: tx, clocks: map[string]bool{}}
	if err := vulnproj.NewSLA().Apply(ctx, stx, ev); err != nil {
		return wrap(err)
	}
	p := &kriPass{ctx: ctx, tx: tx, teams: map[string]readmodel.Doc{}, touched: map[string]map[string]bool{}}
	for _, id := range slices.Sorted(maps.Keys(stx.clocks)) {
		if err := p.clock(id); err != nil {
			return wrap(err)
		}
	}
	at := sourceTime(ev)
	// The KEV overdue count moves with time too: every event of a team
	// that has KEV occurrences with a due date gives it a point.
	for _, team := range slices.Sorted(maps.Keys(p.teams)) {
		if len(fold.Obj(p.teams[team], "kev_due")) > 0 {
			p.touch(team, kevOverdueSeries)
		}
	}
	for _, team := range slices.Sorted(maps.Keys(p.touched)) {
		t, err := p.team(team)
		if err != nil {
			return wrap(err)
		}
		if fold.Num(t, "position") >= ev.Position {
			continue // redelivered: its points are recorded
		}
		t["position"] = ev.Position
		last := maps.Clone(fold.Obj(t, "last"))
		if last == nil {
			last = map[string]any{}
		}
		for _, series := range slices.Sorted(maps.Keys(p.touched[team])) {
			v := value(t, series, at)
			if prev, ok := last[mapKey(series)]; ok && num64(prev) == v {
				continue
			}
			last[mapKey(series)] = v
			tx.Put(KRIPointsCollection, readmodel.Doc{"_id": url.PathEscape(team) + "/" + url.PathEscape(series) + "/" + at.UTC().Format("20060102T150405.000000000Z"),
				"team_id": team, "series": series, "value": float64(v), "measured_at": at, "event_id": ev.EventID})
		}
		t["last"] = last
	}
	for _, team := range slices.Sorted(maps.Keys(p.teams)) {
		tx.Put(kriCountsCollection, p.teams[team])
	}
	return nil
}
