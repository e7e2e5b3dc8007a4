package platform

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The audit log's projection and collection names.
const (
	AuditLogName       = "platform.audit_log"
	AuditLogCollection = "audit_log"
)

// MaxAuditStreamIDs bounds the stream ids an audit-log entry lists (a
// findings batch writes one stream per finding); streams_truncated says
// when there were more.
const MaxAuditStreamIDs = 20

// AuditLog records one audit_log document per accepted command: who sent
// it (team, actor), through what (route, idempotency key, correlation id),
// and what it appended (first and last position, event count, the streams
// and event types). The key is the command id every event of the command
// carries (commands/handlers.go); an event without one (written before
// command ids, or by a writer that sets none) is an entry of its own.
//
// It listens to every event type of the domain codec. An event is folded
// into its entry as a set insertion: the entry keeps the positions it has
// seen, as sorted runs of consecutive positions (a command's events are
// mostly consecutive, so a batch of 10,000 findings is one or a few runs,
// not 10,000 numbers rewritten on every event), so applying an event twice
// changes nothing, and every field is a function of the set of events
// (minimum, maximum, sorted sets; the request fields of the lowest
// position), so the entry is the same whatever order the events arrive
// in. Idempotent replays of a command append nothing and so add nothing.
//
// Events without a team belong to no team's log and are ignored.
type AuditLog struct {
	types []string
}

var _ projections.Projection = AuditLog{}

// NewAuditLog returns the "platform.audit_log" projection over every event
// type the domain codec knows.
func NewAuditLog() AuditLog { return AuditLog{types: eventstore.NewDomainCodec().Types()} }

// Name implements projections.Projection.
func (AuditLog) Name() string { return AuditLogName }

// Database implements projections.Projection.
func (AuditLog) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes implements projections.Projection: all of them.
func (a AuditLog) EventTypes() []string { return slices.Clone(a.types) }

// Collections implements projections.Projection: the team's log newest
// first, and filtered by actor or by route, newest first.
func (AuditLog) Collections() []readmodel.CollectionSpec {
	byTeam := func(name string, fields ...string) readmodel.Index {
		ix := readmodel.Index{Name: name, Fields: []readmodel.IndexField{{Path: "team_id"}}}
		for _, f := range fields {
			ix.Fields = append(ix.Fields, readmodel.IndexField{Path: f})
		}
		ix.Fields = append(ix.Fields, readmodel.IndexField{Path: "position", Desc: true})
		return ix
	}
	return []readmodel.CollectionSpec{{
		Name: AuditLogCollection,
		Indexes: []readmodel.Index{
			byTeam("by_team_position"),
			byTeam("by_team_actor", "actor"),
			byTeam("by_team_route", "route"),
		},
	}}
}

// AuditEntryID is the id of the audit-log entry of an event within its
// team: its command id, or "event:<event id>" when it has none.
func AuditEntryID(md eventstore.Metadata, eventID string) string {
	if md.CommandID != "" {
		return md.CommandID
	}
	return "event:" + eventID
}

// Apply implements projections.Projection.
func (AuditLog) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	if team == "" {
		return nil
	}
	id := AuditEntryID(ev.Metadata, ev.EventID)
	doc, _, err := fold.Get(ctx, tx, AuditLogCollection, Key(team, id))
	if err != nil {
		return fmt.Errorf("%s: %w", AuditLogName, err)
	}
	e := loadAuditEntry(doc, team, id)
	if !e.add(ev) {
		return nil // already applied
	}
	tx.Put(AuditLogCollection, e.doc())
	return nil
}

// auditEntry is an audit_log document.
type auditEntry struct {
	team, id                                        string
	commandID, actor, route, idempotencyKey, corrID string
	runs                                            []posRun // sorted, disjoint, not adjacent
	streamIDs                                       []string
	streamsTruncated                                bool
	eventTypes                                      []string
	recordedAt                                      time.Time
}

func loadAuditEntry(d readmodel.Doc, team, id string) auditEntry {
	return auditEntry{
		team:             team,
		id:               id,
		commandID:        fold.Str(d, "command_id"),
		actor:            fold.Str(d, "actor"),
		route:            fold.Str(d, "route"),
		idempotencyKey:   fold.Str(d, "idempotency_key"),
		corrID:           fold.Str(d, "correlation_id"),
		runs:             loadRuns(d, "position_runs"),
		streamIDs:        strs(d, "stream_ids"),
		streamsTruncated: fold.Flag(d, "streams_truncated"),
		eventTypes:       strs(d, "event_types"),
		recordedAt:       fold.Time(d, "recorded_at"),
	}
}

// add folds ev into the entry; false when the entry already holds it.
func (e *auditEntry) add(ev projections.Event) bool {
	lowest := len(e.runs) == 0 || ev.Position < e.runs[0].first
	if !e.insert(ev.Position) {
		return false
	}
	if lowest {
		// The request fields come from the lowest position: all events of
		// one command carry the same, and this keeps the entry a function
		// of its set of events should they ever differ.
		md := ev.Metadata
		e.commandID, e.actor, e.route, e.idempotencyKey, e.corrID = md.CommandID, md.Actor, md.Route, md.IdempotencyKey, md.CorrelationID
	}
	e.addStream(ev.StreamID)
	if j, ok := slices.BinarySearch(e.eventTypes, ev.Type); !ok {
		e.eventTypes = slices.Insert(e.eventTypes, j, ev.Type)
	}
	at := readmodel.NormalizeTime(ev.RecordedAt)
	if e.recordedAt.IsZero() || at.Before(e.recordedAt) {
		e.recordedAt = at
	}
	return true
}

// addStream keeps the MaxAuditStreamIDs smallest stream ids of the entry
// (the same set whatever the order), and notes when there are more.
func (e *auditEntry) addStream(id string) {
	j, ok := slices.BinarySearch(e.streamIDs, id)
	switch {
	case ok:
	case len(e.streamIDs) < MaxAuditStreamIDs:
		e.streamIDs = slices.Insert(e.streamIDs, j, id)
	case j < len(e.streamIDs):
		e.streamIDs = slices.Insert(e.streamIDs, j, id)[:MaxAuditStreamIDs]
		e.streamsTruncated = true
	default:
		e.streamsTruncated = true
	}
}

// posRun is the positions first..last, all of them.
type posRun struct{ first, last int64 }

// insert adds p to the runs; false when they hold it already.
func (e *auditEntry) insert(p int64) bool {
	// i: the first run starting after p.
	i, _ := slices.BinarySearchFunc(e.runs, p, func(r posRun, p int64) int {
		if r.first > p {
			return 1
		}
		return -1
	})
	if i > 0 && p <= e.runs[i-1].last {
		return false
	}
	joinsPrev := i > 0 && e.runs[i-1].last == p-1
	joinsNext := i < len(e.runs) && e.runs[i].first == p+1
	switch {
	case joinsPrev && joinsNext:
		e.runs[i-1].last = e.runs[i].last
		e.runs = slices.Delete(e.runs, i, i+1)
	case joinsPrev:
		e.runs[i-1].last = p
	case joinsNext:
		e.runs[i].first = p
	default:
		e.runs = slices.Insert(e.runs, i, posRun{p, p})
	}
	return true
}

// count is how many positions the runs hold.
func (e auditEntry) count() int64 {
	var n int64
	for _, r := range e.runs {
		n += r.last - r.first + 1
	}
	return n
}

// loadRuns reads runs stored as a flat array [first, last, first, last...].
func loadRuns(d map[string]any, key string) []posRun {
	var flat []int64
	switch l := d[key].(type) {
	case []int64:
		flat = l
	case []any:
		for _, v := range l {
			switch n := v.(type) {
			case int64:
				flat = append(flat, n)
			case int:
				flat = append(flat, int64(n))
			case float64:
				flat = append(flat, int64(n))
			}
		}
	}
	runs := make([]posRun, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		runs = append(runs, posRun{flat[i], flat[i+1]})
	}
	return runs
}

func (e auditEntry) doc() readmodel.Doc {
	runs := make([]any, 0, 2*len(e.runs))
	for _, r := range e.runs {
		runs = append(runs, r.first, r.last)
	}
	return readmodel.Doc{
		"_id":               Key(e.team, e.id),
		"team_id":           e.team,
		"entry_id":          e.id,
		"command_id":        e.commandID,
		"actor":             e.actor,
		"route":             e.route,
		"idempotency_key":   e.idempotencyKey,
		"correlation_id":    e.corrID,
		"first_position":    e.runs[0].first,
		"position":          e.runs[len(e.runs)-1].last,
		"event_count":       e.count(),
		"position_runs":     runs,
		"stream_ids":        anyStrings(e.streamIDs),
		"streams_truncated": e.streamsTruncated,
		"event_types":       anyStrings(e.eventTypes),
		"recorded_at":       fold.TimeOrNil(e.recordedAt),
	}
}

// strs reads an array of strings, sorted (a copy: the document is not
// changed).
func strs(d map[string]any, key string) []string {
	var out []string
	switch l := d[key].(type) {
	case []string:
		out = slices.Clone(l)
	case []any:
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nums reads an array of integers, sorted and distinct (a copy).
func nums(d map[string]any, key string) []int64 {
	var out []int64
	switch l := d[key].(type) {
	case []int64:
		out = slices.Clone(l)
	case []any:
		for _, v := range l {
			switch n := v.(type) {
			case int64:
				out = append(out, n)
			case int:
				out = append(out, int64(n))
			case float64:
				out = append(out, int64(n))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
