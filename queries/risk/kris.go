package risk

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// Definition is a KRI's thresholds from a time on.
type Definition struct {
	From      time.Time `json:"from"`
	Direction string    `json:"direction"`
	Amber     float64   `json:"amber"`
	Red       float64   `json:"red"`
}

// KRI is a key risk indicator of the team, with its latest value and
// breach state.
type KRI struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Description    string       `json:"description,omitempty"`
	Unit           string       `json:"unit"`
	Direction      string       `json:"direction"`
	Amber          float64      `json:"amber"`
	Red            float64      `json:"red"`
	Source         string       `json:"source"`
	Account        string       `json:"account,omitempty"`
	RiskID         string       `json:"risk_id,omitempty"`
	Status         string       `json:"status"` // active, retired
	LastValue      *float64     `json:"last_value,omitempty"`
	LastMeasuredAt time.Time    `json:"last_measured_at,omitzero"`
	State          string       `json:"state,omitempty"` // green, amber, red; absent before a first value
	DefinedAt      time.Time    `json:"defined_at"`
	Definitions    []Definition `json:"definitions"`
}

type storedKRI struct {
	KRI
	KRIID string `json:"kri_id"`
}

// KRIList is one page of KRIs.
type KRIList struct {
	Items      []KRI  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// GetKRI returns the team's KRI. A computed KRI's latest value is the
// risk.kris projection's.
func (s *Service) GetKRI(ctx context.Context, team, id string) (KRI, error) {
	var k storedKRI
	if err := s.get(ctx, krisCollection, "KRI", team, id, &k); err != nil {
		return KRI{}, err
	}
	k.KRI.ID = k.KRIID
	return s.withComputed(ctx, team, k.KRI)
}

// withComputed gives a computed KRI its latest value: the latest point
// risk.kris recorded in its series, judged by the thresholds in force at
// that point's time.
func (s *Service) withComputed(ctx context.Context, team string, k KRI) (KRI, error) {
	if k.Source == rdomain.SourceManual || k.Source == "" {
		return k, nil
	}
	last, err := s.points(ctx, team, k, time.Time{}, farFuture, 1, true)
	if err != nil || len(last) == 0 {
		return k, err
	}
	p := last[0]
	k.LastValue, k.LastMeasuredAt, k.State = ptr(p.Value), p.At, k.stateAt(p.At, p.Value)
	return k, nil
}

// farFuture bounds "every point".
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// stateAt is the breach state of value at t under the definition then in
// force (the first one before any).
func (k KRI) stateAt(t time.Time, value float64) string {
	d := rdomain.KRISpec{Direction: k.Direction, Amber: k.Amber, Red: k.Red}
	for i, def := range k.Definitions {
		if i == 0 || !def.From.After(t) {
			d = rdomain.KRISpec{Direction: def.Direction, Amber: def.Amber, Red: def.Red}
		}
	}
	return d.State(value)
}

// ListKRIs returns one page of the team's KRIs, newest first.
func (s *Service) ListKRIs(ctx context.Context, team string, p queries.Page) (KRIList, error) {
	if team == "" {
		return KRIList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return KRIList{}, err
	}
	page, err := queries.Find(ctx, s.rm, krisCollection, readmodel.FindOptions{Filter: readmodel.Eq("team_id", team),
		Sort: []readmodel.SortField{readmodel.Desc("defined_at")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return KRIList{}, fmt.Errorf("list KRIs: %w", err)
	}
	out := KRIList{Items: make([]KRI, 0, len(page.Docs)), NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		var k storedKRI
		if err := decode(d, &k); err != nil {
			return KRIList{}, err
		}
		k.KRI.ID = k.KRIID
		kk, err := s.withComputed(ctx, team, k.KRI)
		if err != nil {
			return KRIList{}, err
		}
		out.Items = append(out.Items, kk)
	}
	return out, nil
}

// Point is one measurement.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// maxPoints bounds what one series reads.
const maxPoints = 100_000

// points reads a KRI's points in [from, to), ascending (descending and at
// most limit when latest): a manual KRI's measurements, or the points
// risk.kris records in a computed KRI's series.
func (s *Service) points(ctx context.Context, team string, k KRI, from, to time.Time, limit int, latest bool) ([]Point, error) {
	timeField := "measured_at"
	coll, key := measurementsCollection, readmodel.Eq("kri_id", k.ID)
	if k.Source != rdomain.SourceManual && k.Source != "" {
		coll, key = kriPointsCollection, readmodel.Eq("series", rdomain.SeriesOf(k.Source, k.Account))
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team), key, readmodel.Lt(timeField, readmodel.NormalizeTime(to))}
	if !from.IsZero() {
		terms = append(terms, readmodel.Gte(timeField, readmodel.NormalizeTime(from)))
	}
	sort := readmodel.Asc(timeField)
	if latest {
		sort = readmodel.Desc(timeField)
	}
	var out []Point
	cursor := ""
	for {
		size := min(limit-len(out), queries.MaxLimit)
		page, err := queries.Find(ctx, s.rm, coll, readmodel.FindOptions{Filter: readmodel.And(terms...), Sort: []readmodel.SortField{sort}, Limit: size, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("KRI %s points: %w", k.ID, err)
		}
		for _, d := range page.Docs {
			out = append(out, Point{At: queries.When(d, timeField), Value: float(d["value"])})
		}
		if page.NextCursor == "" || len(out) >= limit {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

func float(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	}
	return 0
}

// Granularities of a series.
const (
	Day   = "day"
	Week  = "week"
	Month = "month"
)

// MaxBuckets bounds a series.
const MaxBuckets = 1000

// Bucket is one period of a series: the last value measured in it (or,
// with carried, the last one before it), its breach state under the
// thresholds in force then, and what the period saw.
type Bucket struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Value   *float64  `json:"value"` // null before the first measurement
	State   string    `json:"state,omitempty"`
	Carried bool      `json:"carried,omitempty"` // no measurement in the period: the last one before it
	Count   int       `json:"count"`
	Min     *float64  `json:"min,omitempty"`
	Max     *float64  `json:"max,omitempty"`
	Breach  bool      `json:"breach"` // red at some measurement of the period
}

// Series is a KRI's history, bucketed.
type Series struct {
	KRI         KRI       `json:"kri"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Granularity string    `json:"granularity"`
	Buckets     []Bucket  `json:"buckets"`
}

// SeriesQuery asks for a series: [From, To) in Granularity buckets (UTC;
// a week starts on Monday). From and To default to 30 days before To and now.
type SeriesQuery struct {
	From, To    time.Time
	Granularity string
}

func truncate(t time.Time, g string) time.Time {
	t = t.UTC()
	switch g {
	case Week:
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func next(t time.Time, g string) time.Time {
	switch g {
	case Week:
		return t.AddDate(0, 0, 7)
	case Month:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// KRISeries returns the KRI's series over [from, to): manual KRIs from
// their measurements, computed ones from the points risk.kris records.
func (s *Service) KRISeries(ctx context.Context, team, id string, q SeriesQuery) (Series, error) {
	var v domain.Validator
	g := strings.ToLower(strings.TrimSpace(q.Granularity))
	if g == "" {
		g = Day
	}
	v.Check(g == Day || g == Week || g == Month, "granularity", "must be day, week or month")
	to := q.To
	if to.IsZero() {
		to = s.now()
	}
	from := q.From
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	v.Check(from.Before(to), "from", "must be before to")
	if err := v.Err(); err != nil {
		return Series{}, err
	}
	start := truncate(from, g)
	n := 0
	for t := start; t.Before(to); t = next(t, g) {
		if n++; n > MaxBuckets {
			v.Add("from", "the range holds more than %d %s buckets", MaxBuckets, g)
			return Series{}, v.Err()
		}
	}
	k, err := s.GetKRI(ctx, team, id)
	if err != nil {
		return Series{}, err
	}
	out := Series{KRI: k, From: start, To: to, Granularity: g, Buckets: []Bucket{}}
	before, err := s.points(ctx, team, k, time.Time{}, start, 1, true)
	if err != nil {
		return Series{}, err
	}
	pts, err := s.points(ctx, team, k, start, to, maxPoints, false)
	if err != nil {
		return Series{}, err
	}
	var last *Point
	if len(before) > 0 {
		last = &before[0]
	}
	i := 0
	for t := start; t.Before(to); t = next(t, g) {
		b := Bucket{Start: t, End: next(t, g)}
		for ; i < len(pts) && pts[i].At.Before(b.End); i++ {
			p := pts[i]
			b.Count++
			if b.Min == nil || p.Value < *b.Min {
				b.Min = ptr(p.Value)
			}
			if b.Max == nil || p.Value > *b.Max {
				b.Max = ptr(p.Value)
			}
			if k.stateAt(p.At, p.Value) == rdomain.Red {
				b.Breach = true
			}
			last = &pts[i]
		}
		if last != nil {
			b.Value, b.Carried = ptr(last.Value), b.Count == 0
			b.State = k.stateAt(last.At, last.Value)
		}
		out.Buckets = append(out.Buckets, b)
	}
	return out, nil
}

func ptr(f float64) *float64 { return &f }

// ComputedKRI is an active computed KRI of a team, with its latest point
// (LastValue nil before one).
type ComputedKRI struct {
	TeamID string `json:"team_id"`
	KRI
}

// ComputedKRIList is one page of the active computed KRIs of every team.
type ComputedKRIList struct {
	Items      []ComputedKRI `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// ActiveComputedKRIs lists the active computed KRIs of every team with
// their latest points, for the KRI observer (serve), which records their
// breach states as events (decision 100). It is not a route: no team
// reads another's KRIs.
func (s *Service) ActiveComputedKRIs(ctx context.Context, p queries.Page) (ComputedKRIList, error) {
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return ComputedKRIList{}, err
	}
	page, err := queries.Find(ctx, s.rm, krisCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("status", "active"), readmodel.In("source", rdomain.SourceOpenCriticalFindings, rdomain.SourceKEVOverdue)),
		Sort:   []readmodel.SortField{readmodel.Asc("_id")}, Limit: p.Size(), Cursor: p.Cursor})
	if err != nil {
		return ComputedKRIList{}, fmt.Errorf("list computed KRIs: %w", err)
	}
	out := ComputedKRIList{Items: make([]ComputedKRI, 0, len(page.Docs)), NextCursor: page.NextCursor}
	for _, d := range page.Docs {
		var k storedKRI
		if err := decode(d, &k); err != nil {
			return ComputedKRIList{}, err
		}
		k.KRI.ID = k.KRIID
		team := queries.Str(d, "team_id")
		kk, err := s.withComputed(ctx, team, k.KRI)
		if err != nil {
			return ComputedKRIList{}, err
		}
		out.Items = append(out.Items, ComputedKRI{TeamID: team, KRI: kk})
	}
	return out, nil
}
