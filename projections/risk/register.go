// Package risk holds the risk-management module's projections
// (docs/risk-management.md) in cspm_risk_management: the register
// (risk.register: matrices, risks with their plans, KRIs and their
// measurements, risk acceptances and the items they accept) and the
// computed KRIs (risk.kris, kris.go).
package risk

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the register projection and its collections.
const (
	RegisterName = "risk.register"

	MatricesCollection      = "risk_matrices"    // _id: team/"matrix": every version of its matrix
	RisksCollection         = "risks"            // _id: team/risk id
	KRIsCollection          = "kris"             // _id: team/kri id
	MeasurementsCollection  = "kri_measurements" // _id: team/kri id/event id (manual KRIs)
	AcceptancesCollection   = "risk_acceptances" // _id: team/acceptance id
	AcceptedItemsCollection = "accepted_items"   // _id: team/item id: the acceptances of one finding or occurrence
)

// Register is the projection risk.register. Every document is one
// stream's (a risk, a KRI, an acceptance, a team's matrix), applied in
// order, but for accepted_items, which several acceptances feed: each
// writes only its own entry there, so the document is a function of the
// set of events (order independence).
type Register struct{}

var _ projections.Projection = Register{}

// NewRegister returns the projection.
func NewRegister() Register { return Register{} }

func (Register) Name() string                  { return RegisterName }
func (Register) Database() dbregistry.Constant { return dbregistry.RISK_MANAGEMENT }

func (Register) EventTypes() []string {
	return []string{
		rdomain.RiskMatrixDefined{}.EventType(),
		rdomain.RiskIdentified{}.EventType(), rdomain.RiskDescribed{}.EventType(), rdomain.RiskScored{}.EventType(),
		rdomain.RiskClosed{}.EventType(), rdomain.TreatmentPlanned{}.EventType(), rdomain.TreatmentTaskUpdated{}.EventType(),
		rdomain.KRIDefined{}.EventType(), rdomain.KRIMeasured{}.EventType(), rdomain.KRIRetired{}.EventType(),
		rdomain.RiskAccepted{}.EventType(), rdomain.RiskAcceptanceRevoked{}.EventType(), rdomain.RiskAcceptanceExpired{}.EventType(),
		rdomain.AcceptedItemFixed{}.EventType(),
	}
}

func ix(name string, fields ...readmodel.IndexField) readmodel.Index {
	return readmodel.Index{Name: name, Fields: fields}
}

func asc(p string) readmodel.IndexField  { return readmodel.IndexField{Path: p} }
func desc(p string) readmodel.IndexField { return readmodel.IndexField{Path: p, Desc: true} }

// Collections declares the read models and the indexes queries/risk uses.
func (Register) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: MatricesCollection},
		{Name: RisksCollection, Indexes: []readmodel.Index{
			ix("by_team_identified", asc("team_id"), desc("identified_at")),
			// Top risks: open ones by level (current, else inherent), highest first.
			ix("by_team_status_rank", asc("team_id"), asc("status"), desc("level_rank"), desc("identified_at")),
		}},
		{Name: KRIsCollection, Indexes: []readmodel.Index{ix("by_team_defined", asc("team_id"), desc("defined_at"))}},
		{Name: MeasurementsCollection, Indexes: []readmodel.Index{ix("by_team_kri_at", asc("team_id"), asc("kri_id"), asc("measured_at"))}},
		{Name: AcceptancesCollection, Indexes: []readmodel.Index{
			ix("by_team_accepted", asc("team_id"), desc("accepted_at")),
			ix("by_team_status_expires", asc("team_id"), asc("status"), asc("expires_at")),
			// The expiry scheduler: active acceptances whose expiry has passed, any team.
			ix("by_status_expires", asc("status"), asc("expires_at")),
		}},
		{Name: AcceptedItemsCollection, Indexes: []readmodel.Index{ix("by_team_accepted", asc("team_id"), asc("accepted"))}},
	}
}

// DocID is the _id of a team's document.
func DocID(team, id string) string { return url.PathEscape(team) + "/" + id }

// plain is v as the store keeps JSON-like values (times become RFC 3339
// strings: only for fields no index or filter reads).
func plain(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}

// Apply implements projections.Projection.
func (Register) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	if team == "" {
		return nil
	}
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case rdomain.RiskMatrixDefined:
		err = matrixDefined(ctx, tx, ev, team, e)
	case rdomain.RiskIdentified, rdomain.RiskDescribed, rdomain.RiskScored, rdomain.RiskClosed, rdomain.TreatmentPlanned, rdomain.TreatmentTaskUpdated:
		err = riskEvent(ctx, tx, ev, team, e)
	case rdomain.KRIDefined, rdomain.KRIMeasured, rdomain.KRIRetired:
		err = kriEvent(ctx, tx, ev, team, e)
	case rdomain.RiskAccepted, rdomain.RiskAcceptanceRevoked, rdomain.RiskAcceptanceExpired, rdomain.AcceptedItemFixed:
		err = acceptanceEvent(ctx, tx, ev, team, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", RegisterName, err)
	}
	return nil
}

// load reads a stream's document; fresh is false when the event was
// applied already (position guard).
func load(ctx context.Context, tx projections.Tx, coll, id string, pos int64) (readmodel.Doc, bool, bool, error) {
	d, found, err := fold.Get(ctx, tx, coll, id)
	if err != nil {
		return nil, false, false, err
	}
	if found && fold.Num(d, "updated_position") >= pos {
		return d, found, false, nil
	}
	return d, found, true, nil
}

func matrixDefined(ctx context.Context, tx projections.Tx, ev projections.Event, team string, e rdomain.RiskMatrixDefined) error {
	d, found, fresh, err := load(ctx, tx, MatricesCollection, DocID(team, "matrix"), ev.Position)
	if err != nil || !fresh {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, "matrix"), "team_id": team}
	}
	versions := fold.Objs(d, "versions")
	v := map[string]any{"version": int64(e.Version), "defined_at": e.DefinedAt, "defined_by": ev.Metadata.Actor, "matrix": plain(e.Matrix)}
	out := make([]any, 0, len(versions)+1)
	for _, x := range versions {
		out = append(out, x)
	}
	d["versions"], d["current_version"], d["updated_position"] = append(out, v), int64(e.Version), ev.Position
	tx.Put(MatricesCollection, d)
	return nil
}

// riskView is the stored shape of a risk's nested parts.
func scoreDoc(s rdomain.Score, note string, at time.Time) map[string]any {
	return map[string]any{"likelihood": s.Likelihood, "impact": s.Impact, "level": s.Level, "level_rank": int64(s.LevelRank),
		"matrix_version": int64(s.MatrixVersion), "note": note, "scored_at": at}
}

func riskEvent(ctx context.Context, tx projections.Tx, ev projections.Event, team string, data any) error {
	var id string
	switch e := data.(type) {
	case rdomain.RiskIdentified:
		id = e.RiskID
	case rdomain.RiskDescribed:
		id = e.RiskID
	case rdomain.RiskScored:
		id = e.RiskID
	case rdomain.RiskClosed:
		id = e.RiskID
	case rdomain.TreatmentPlanned:
		id = e.RiskID
	case rdomain.TreatmentTaskUpdated:
		id = e.RiskID
	}
	d, found, fresh, err := load(ctx, tx, RisksCollection, DocID(team, id), ev.Position)
	if err != nil || !fresh {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "risk_id": id, "status": "open", "scores": map[string]any{}, "plans": []any{}}
	}
	d["updated_position"] = ev.Position
	describe := func(title, description, owner string, l rdomain.Links) {
		d["title"], d["description"], d["owner"] = title, description, owner
		d["links"] = map[string]any{"assets": strs(l.Assets), "threats": strs(l.Threats), "findings": strs(l.Findings), "vulnerabilities": strs(l.Vulnerabilities)}
	}
	switch e := data.(type) {
	case rdomain.RiskIdentified:
		describe(e.Title, e.Description, e.Owner, e.Links)
		d["identified_at"], d["updated_at"], d["identified_by"] = e.IdentifiedAt, e.IdentifiedAt, ev.Metadata.Actor
	case rdomain.RiskDescribed:
		describe(e.Title, e.Description, e.Owner, e.Links)
		d["updated_at"] = e.ChangedAt
	case rdomain.RiskScored:
		scores := fold.Obj(d, "scores")
		if scores == nil {
			scores = map[string]any{}
		}
		scores[e.Kind] = scoreDoc(e.Score, e.Note, e.ScoredAt)
		d["scores"], d["updated_at"] = scores, e.ScoredAt
	case rdomain.RiskClosed:
		d["status"], d["closed_at"], d["close_reason"], d["updated_at"] = "closed", e.ClosedAt, e.Reason, e.ClosedAt
	case rdomain.TreatmentPlanned:
		plans := fold.Objs(d, "plans")
		out := make([]any, 0, len(plans)+1)
		for _, p := range plans {
			out = append(out, p)
		}
		p := rdomain.Plan{PlanID: e.PlanID, Strategy: e.Strategy, Owner: e.Owner, DueDate: e.DueDate, Tasks: e.Tasks}
		out = append(out, planDoc(p, e.PlannedAt))
		d["plans"], d["updated_at"] = out, e.PlannedAt
	case rdomain.TreatmentTaskUpdated:
		plans := fold.Objs(d, "plans")
		out := make([]any, 0, len(plans))
		for _, p := range plans {
			if fold.Str(p, "plan_id") == e.PlanID {
				pl := planOf(p)
				for i := range pl.Tasks {
					if pl.Tasks[i].TaskID == e.TaskID {
						pl.Tasks[i].Status = e.Status
					}
				}
				p = planDoc(pl, fold.Time(p, "planned_at"))
				p["updated_at"] = e.UpdatedAt
			}
			out = append(out, p)
		}
		d["plans"], d["updated_at"] = out, e.UpdatedAt
	}
	// The level the register sorts by: current, else inherent.
	scores := fold.Obj(d, "scores")
	rank, level := int64(0), ""
	for _, k := range []string{rdomain.Inherent, rdomain.Current} {
		if s := fold.Obj(scores, k); s != nil {
			rank, level = fold.Num(s, "level_rank"), fold.Str(s, "level")
		}
	}
	d["level_rank"], d["level"] = rank, level
	tx.Put(RisksCollection, d)
	return nil
}

func strs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func planDoc(p rdomain.Plan, plannedAt time.Time) map[string]any {
	tasks := make([]any, len(p.Tasks))
	for i, t := range p.Tasks {
		tasks[i] = map[string]any{"task_id": t.TaskID, "title": t.Title, "status": t.Status}
	}
	return map[string]any{"plan_id": p.PlanID, "strategy": p.Strategy, "owner": p.Owner, "due_date": p.DueDate,
		"tasks": tasks, "progress": int64(p.Progress()), "planned_at": plannedAt}
}

func planOf(d map[string]any) rdomain.Plan {
	p := rdomain.Plan{PlanID: fold.Str(d, "plan_id"), Strategy: fold.Str(d, "strategy"), Owner: fold.Str(d, "owner"), DueDate: fold.Time(d, "due_date")}
	for _, t := range fold.Objs(d, "tasks") {
		p.Tasks = append(p.Tasks, rdomain.Task{TaskID: fold.Str(t, "task_id"), Title: fold.Str(t, "title"), Status: fold.Str(t, "status")})
	}
	return p
}

func kriEvent(ctx context.Context, tx projections.Tx, ev projections.Event, team string, data any) error {
	var id string
	switch e := data.(type) {
	case rdomain.KRIDefined:
		id = e.KRIID
	case rdomain.KRIMeasured:
		id = e.KRIID
	case rdomain.KRIRetired:
		id = e.KRIID
	}
	d, found, fresh, err := load(ctx, tx, KRIsCollection, DocID(team, id), ev.Position)
	if err != nil || !fresh {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "kri_id": id, "status": "active", "definitions": []any{}}
	}
	d["updated_position"] = ev.Position
	switch e := data.(type) {
	case rdomain.KRIDefined:
		s := e.Spec
		d["name"], d["description"], d["unit"], d["direction"] = s.Name, s.Description, s.Unit, s.Direction
		d["amber"], d["red"], d["source"], d["account"], d["risk_id"] = s.Amber, s.Red, s.Source, s.Account, s.RiskID
		if !found {
			d["defined_at"] = e.DefinedAt
		}
		// Every definition, from its time: a point of the series is judged
		// by the thresholds in force at its time.
		defs := slices.Clone(anys(d["definitions"]))
		d["definitions"] = append(defs, map[string]any{"from": e.DefinedAt, "direction": s.Direction, "amber": s.Amber, "red": s.Red})
		d["updated_at"] = e.DefinedAt
		if v, ok := d["last_value"].(float64); ok {
			d["state"] = s.State(v)
		}
	case rdomain.KRIMeasured:
		tx.Put(MeasurementsCollection, readmodel.Doc{"_id": DocID(team, id) + "/" + ev.EventID, "team_id": team, "kri_id": id,
			"value": e.Value, "note": e.Note, "measured_at": e.MeasuredAt, "measured_by": ev.Metadata.Actor})
		if last := fold.Time(d, "last_measured_at"); last.IsZero() || !e.MeasuredAt.Before(last) {
			spec := rdomain.KRISpec{Direction: fold.Str(d, "direction"), Amber: num(d["amber"]), Red: num(d["red"])}
			d["last_value"], d["last_measured_at"], d["state"] = e.Value, e.MeasuredAt, spec.State(e.Value)
		}
	case rdomain.KRIRetired:
		d["status"], d["retired_at"], d["updated_at"] = "retired", e.RetiredAt, e.RetiredAt
	}
	tx.Put(KRIsCollection, d)
	return nil
}

func anys(v any) []any {
	l, _ := v.([]any)
	return l
}

func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

func acceptanceEvent(ctx context.Context, tx projections.Tx, ev projections.Event, team string, data any) error {
	var id string
	switch e := data.(type) {
	case rdomain.RiskAccepted:
		id = e.AcceptanceID
	case rdomain.RiskAcceptanceRevoked:
		id = e.AcceptanceID
	case rdomain.RiskAcceptanceExpired:
		id = e.AcceptanceID
	case rdomain.AcceptedItemFixed:
		id = e.AcceptanceID
	}
	d, found, fresh, err := load(ctx, tx, AcceptancesCollection, DocID(team, id), ev.Position)
	if err != nil || !fresh {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, id), "team_id": team, "acceptance_id": id, "status": rdomain.AcceptanceActive, "fixed": map[string]any{}}
	}
	d["updated_position"] = ev.Position
	var ended time.Time
	switch e := data.(type) {
	case rdomain.RiskAccepted:
		d["risk_id"], d["scope"], d["reason"], d["approver"], d["approved_by"] = e.RiskID, plain(e.Scope), e.Reason, e.Approver, ev.Metadata.Actor
		d["accepted_at"], d["expires_at"], d["items"] = e.AcceptedAt, e.ExpiresAt, int64(len(e.Scope.Items()))
		for item, module := range e.Scope.Items() {
			if err := putItem(ctx, tx, team, item, module, id, e.AcceptedAt, e.ExpiresAt, time.Time{}); err != nil {
				return err
			}
		}
	case rdomain.RiskAcceptanceRevoked:
		d["status"], d["ended_at"], d["end_reason"] = rdomain.AcceptanceRevoked, e.RevokedAt, e.Reason
		ended = e.RevokedAt
	case rdomain.RiskAcceptanceExpired:
		d["status"], d["ended_at"] = rdomain.AcceptanceExpired, e.ExpiredAt
		ended = e.ExpiredAt
	case rdomain.AcceptedItemFixed:
		fixed := maps.Clone(fold.Obj(d, "fixed"))
		if fixed == nil {
			fixed = map[string]any{}
		}
		fixed[e.ItemID] = e.FixedAt
		d["fixed"] = fixed
		if err := putItem(ctx, tx, team, e.ItemID, e.Module, id, time.Time{}, time.Time{}, e.FixedAt); err != nil {
			return err
		}
		if fold.Obj(fold.Obj(d, "scope"), "rule") == nil && int64(len(fixed)) == fold.Num(d, "items") {
			d["status"], d["ended_at"] = rdomain.AcceptanceClosed, e.FixedAt
		}
	}
	if !ended.IsZero() {
		var sc rdomain.Scope
		if raw, err := json.Marshal(d["scope"]); err == nil {
			_ = json.Unmarshal(raw, &sc)
		}
		fixed := fold.Obj(d, "fixed")
		for item, module := range sc.Items() {
			if _, done := fixed[item]; done {
				continue
			}
			if err := putItem(ctx, tx, team, item, module, id, time.Time{}, time.Time{}, ended); err != nil {
				return err
			}
		}
	}
	tx.Put(AcceptancesCollection, d)
	return nil
}

// putItem records, in the item's document, acceptance acc's part: its
// start and expiry (from RiskAccepted) or its end for this item. The item
// is accepted while one of its acceptances has started and not ended.
func putItem(ctx context.Context, tx projections.Tx, team, item, module, acc string, from, until, ended time.Time) error {
	d, found, err := fold.Get(ctx, tx, AcceptedItemsCollection, DocID(team, item))
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": DocID(team, item), "team_id": team, "item_id": item, "module": module, "acceptances": map[string]any{}}
	}
	accs := maps.Clone(fold.Obj(d, "acceptances"))
	if accs == nil {
		accs = map[string]any{}
	}
	a := maps.Clone(fold.Obj(accs, acc))
	if a == nil {
		a = map[string]any{}
	}
	if !from.IsZero() {
		a["from"], a["until"] = from, until
	}
	if !ended.IsZero() {
		a["ended_at"] = ended
	}
	accs[acc] = a
	d["acceptances"] = accs
	accepted, until0 := false, time.Time{}
	for _, k := range slices.Sorted(maps.Keys(accs)) {
		x := fold.Obj(accs, k)
		if !fold.Time(x, "from").IsZero() && fold.Time(x, "ended_at").IsZero() {
			accepted = true
			if u := fold.Time(x, "until"); u.After(until0) {
				until0 = u
			}
		}
	}
	d["accepted"] = accepted
	if accepted {
		d["accepted_until"] = until0
	} else {
		d["accepted_until"] = nil
	}
	tx.Put(AcceptedItemsCollection, d)
	return nil
}
