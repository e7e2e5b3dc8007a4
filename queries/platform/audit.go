package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The audit queries (docs/architecture.md §6, "Audit"): the audit log, a read model
// like any other, and the views that read the event store itself, the
// one exception to "queries never read the event store" (docs/architecture.md §1):
// a stream's stored events, a stream's state as of a time or version, and
// the verification of every hash chain.

// auditLogCollection is written by projections/platform (AuditLog).
const auditLogCollection = "audit_log"

// AuditDeps are what NewAudit needs.
type AuditDeps struct {
	// Log reads cspm_platform (audit_log).
	Log queries.DocFinder
	// Events is the event store (eventstore.Verify needs the whole port).
	Events eventstore.Store
	// State rebuilds the aggregate state of one stream's events (oldest
	// first, a prefix of the stream): commands.State with the domain codec.
	State func(events []eventstore.RecordedEvent) (any, error)
	// AuditKey and AuditDir are what Verify checks the keyed chain and the
	// checkpoint copy with (the zero key and "": not checked), the same
	// as `cspm events verify` reads from the configuration.
	AuditKey eventstore.AuditKey
	AuditDir string
}

// Audit runs the audit queries. It is safe for concurrent use.
type Audit struct {
	log    queries.DocFinder
	events eventstore.Store
	state  func([]eventstore.RecordedEvent) (any, error)
	verify chan struct{} // one Verify at a time: each walks the whole store
	key    eventstore.AuditKey
	dir    string
}

// NewAudit returns the audit queries. It panics on a missing dependency:
// that is a wiring mistake to catch at start-up.
func NewAudit(d AuditDeps) *Audit {
	if d.Log == nil || d.Events == nil || d.State == nil {
		panic("platform.NewAudit: a dependency is missing")
	}
	return &Audit{log: d.Log, events: d.Events, state: d.State, verify: make(chan struct{}, 1), key: d.AuditKey, dir: d.AuditDir}
}

// AuditFilter narrows AuditLog; empty fields do not filter.
type AuditFilter struct {
	Actor string // exactly, e.g. "key:0190..." or "cli"
	Route string // exactly, e.g. "POST /api/v1/scans/:id/start"
}

// AuditEntry is one accepted command in the audit log.
type AuditEntry struct {
	// ID is the command id, or "event:<event id>" for an event that
	// carries none (it is then an entry of its own).
	ID             string `json:"id"`
	TeamID         string `json:"team_id"`
	CommandID      string `json:"command_id,omitempty"`
	Actor          string `json:"actor"`
	Route          string `json:"route,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	CorrelationID  string `json:"correlation_id,omitempty"`
	// FirstPosition and Position are the lowest and highest positions of
	// the command's events; Position is the one to pass as min_position.
	FirstPosition int64 `json:"first_position"`
	Position      int64 `json:"position"`
	EventCount    int64 `json:"event_count"`
	// StreamIDs are the streams written (the smallest ids, at most
	// projections/platform.MaxAuditStreamIDs); StreamsTruncated says
	// there were more.
	StreamIDs        []string  `json:"stream_ids"`
	StreamsTruncated bool      `json:"streams_truncated"`
	EventTypes       []string  `json:"event_types"`
	RecordedAt       time.Time `json:"recorded_at,omitzero"`
}

// AuditList is one page of the audit log, newest first.
type AuditList struct {
	Items      []AuditEntry `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// AuditLog returns one page of the team's audit log, newest command (by
// position) first, matching every field f sets.
func (a *Audit) AuditLog(ctx context.Context, team string, f AuditFilter, p queries.Page) (AuditList, error) {
	if team == "" {
		return AuditList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	queries.CheckText(&v, "actor", f.Actor)
	queries.CheckText(&v, "route", f.Route)
	p.Check(&v)
	if err := v.Err(); err != nil {
		return AuditList{}, err
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	terms = queries.AppendEq(terms, "actor", f.Actor)
	terms = queries.AppendEq(terms, "route", f.Route)
	page, err := queries.Find(ctx, a.log, auditLogCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("position")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return AuditList{}, fmt.Errorf("audit log: %w", err)
	}
	out := AuditList{Items: make([]AuditEntry, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = AuditEntry{
			ID:               queries.Str(d, "entry_id"),
			TeamID:           queries.Str(d, "team_id"),
			CommandID:        queries.Str(d, "command_id"),
			Actor:            queries.Str(d, "actor"),
			Route:            queries.Str(d, "route"),
			IdempotencyKey:   queries.Str(d, "idempotency_key"),
			CorrelationID:    queries.Str(d, "correlation_id"),
			FirstPosition:    queries.Num(d, "first_position"),
			Position:         queries.Num(d, "position"),
			EventCount:       queries.Num(d, "event_count"),
			StreamIDs:        strList(d, "stream_ids"),
			StreamsTruncated: flag(d, "streams_truncated"),
			EventTypes:       strList(d, "event_types"),
			RecordedAt:       queries.When(d, "recorded_at"),
		}
	}
	return out, nil
}

// AuditEvent is a stored event as the audit views show it: the envelope
// as stored (data not upcast, hash and prev_hash included), except that
// fields holding credential material are replaced by RedactedValue and
// listed in Redacted (the event's hash then no longer recomputes from the
// answer; `cspm events export` has the stored bytes).
type AuditEvent struct {
	eventstore.RecordedEvent
	Redacted []string `json:"redacted,omitempty"`
}

// RedactedValue replaces a redacted field's value.
const RedactedValue = "[redacted]"

// redactedFields are the data fields of each event type the audit views
// never show: what is stored of an API key's secret.
var redactedFields = map[string][]string{
	"ApiKeyIssued": {"salt", "hash"},
}

// StreamEvents returns the stored events of one of the team's streams,
// oldest first. A stream that does not exist, or whose events carry
// another team, is queries.ErrNotFound.
func (a *Audit) StreamEvents(ctx context.Context, team, streamID string) ([]AuditEvent, error) {
	if team == "" {
		return nil, queries.ErrNoTeam
	}
	evs, err := a.events.ReadStream(ctx, streamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit stream %q: %w", streamID, err)
	}
	if !ownedBy(evs, team) {
		return nil, queries.NotFound("stream", streamID)
	}
	return auditEvents(evs)
}

// StreamAsOf is the point a StreamState was asked for.
type StreamAsOf struct {
	Time    *time.Time `json:"time,omitempty"`
	Version int64      `json:"version,omitempty"`
}

// StreamState is a stream as it stood at a point: the events up to it and
// the aggregate state rebuilt from them (what `cspm events replay --json`
// prints, plus the stream type).
type StreamState struct {
	StreamID   string       `json:"stream_id"`
	StreamType string       `json:"stream_type"`
	AsOf       *StreamAsOf  `json:"as_of,omitempty"`
	Version    int64        `json:"version"`  // of the last event replayed
	Position   int64        `json:"position"` // of the last event replayed
	RecordedAt time.Time    `json:"recorded_at"`
	Events     []AuditEvent `json:"events"`
	State      any          `json:"state"`
}

// StreamState replays one of the team's streams up to at (its zero value:
// the whole stream) with eventstore.ReplayStream and rebuilds the state
// from those events. A stream that does not exist, whose events carry
// another team, or that had no event yet at that point is queries.ErrNotFound.
func (a *Audit) StreamState(ctx context.Context, team, streamID string, at eventstore.AsOf) (StreamState, error) {
	if team == "" {
		return StreamState{}, queries.ErrNoTeam
	}
	var v domain.Validator
	v.Check(at.Version >= 0, "version", "must be a positive stream version")
	v.Check(at.Time.IsZero() || at.Version == 0, "version", "give as_of or version, not both")
	if err := v.Err(); err != nil {
		return StreamState{}, err
	}
	evs, err := eventstore.ReplayStream(ctx, a.events, streamID, at)
	if err != nil {
		return StreamState{}, fmt.Errorf("audit: %w", err)
	}
	if !ownedBy(evs, team) {
		return StreamState{}, queries.NotFound("stream", streamID)
	}
	state, err := a.state(evs)
	if err != nil {
		return StreamState{}, fmt.Errorf("audit: rebuild the state of %s: %w", streamID, err)
	}
	shown, err := auditEvents(evs)
	if err != nil {
		return StreamState{}, err
	}
	last := evs[len(evs)-1]
	out := StreamState{
		StreamID: streamID, StreamType: last.StreamType, Version: last.Version, Position: last.Position,
		RecordedAt: last.RecordedAt, Events: shown, State: state,
	}
	if !at.Time.IsZero() || at.Version != 0 {
		out.AsOf = &StreamAsOf{Version: at.Version}
		if !at.Time.IsZero() {
			t := at.Time.UTC()
			out.AsOf.Time = &t
		}
	}
	return out, nil
}

// VerifyResult is the outcome of verifying the store's tamper evidence
// (eventstore.Verify; docs/tamper-evidence.md): the report, plus when it
// ran. `cspm events verify --json` prints the same document.
type VerifyResult struct {
	// OK: nothing that was checked is broken. NotChecked says what could
	// not be checked; Broken names the first broken link.
	OK                    bool                          `json:"ok"`
	Head                  int64                         `json:"head"`
	EventsChecked         int64                         `json:"events_checked"`
	StreamsChecked        int64                         `json:"streams_checked"`
	CheckpointsChecked    int64                         `json:"checkpoints_checked"`
	IdempotencyChecked    int64                         `json:"idempotency_records_checked"`
	StoreID               string                        `json:"store_id,omitempty"`
	KeyID                 string                        `json:"key_id,omitempty"`
	Keyed                 bool                          `json:"keyed"`
	LatestCheckpoint      *eventstore.CheckpointSummary `json:"latest_checkpoint,omitempty"`
	EventsAfterCheckpoint int64                         `json:"events_after_checkpoint"`
	NotChecked            []string                      `json:"not_checked,omitempty"`
	Broken                *eventstore.BrokenLink        `json:"broken,omitempty"`
	StartedAt             time.Time                     `json:"started_at"`
	DurationMS            int64                         `json:"duration_ms"`
}

// NewVerifyResult is rep as a VerifyResult, for a run started at start
// that took d.
func NewVerifyResult(rep eventstore.VerifyReport, start time.Time, d time.Duration) VerifyResult {
	return VerifyResult{
		OK:                    rep.Broken == nil,
		Head:                  rep.Head,
		EventsChecked:         rep.EventsChecked,
		StreamsChecked:        rep.StreamsChecked,
		CheckpointsChecked:    rep.CheckpointsChecked,
		IdempotencyChecked:    rep.IdempotencyChecked,
		StoreID:               rep.StoreID,
		KeyID:                 rep.KeyID,
		Keyed:                 rep.Keyed,
		LatestCheckpoint:      rep.LatestCheckpoint,
		EventsAfterCheckpoint: rep.EventsAfterCheckpoint,
		NotChecked:            rep.NotChecked,
		Broken:                rep.Broken,
		StartedAt:             start.UTC(),
		DurationMS:            d.Milliseconds(),
	}
}

// Verify runs eventstore.Verify over the whole store with the audit key
// and directory (one at a time: a second call waits for the first). A
// broken chain is a result, not an error; an error means the check could
// not run (ctx ended, store down).
func (a *Audit) Verify(ctx context.Context) (VerifyResult, error) {
	select {
	case a.verify <- struct{}{}:
		defer func() { <-a.verify }()
	case <-ctx.Done():
		return VerifyResult{}, fmt.Errorf("audit verify: waiting for the running one: %w", ctx.Err())
	}
	start := time.Now()
	rep, err := eventstore.Verify(ctx, a.events, eventstore.VerifyOptions{Key: a.key, AuditDir: a.dir})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return VerifyResult{}, fmt.Errorf("audit: %w", err)
	}
	return NewVerifyResult(rep, start, time.Since(start)), nil
}

// ownedBy reports whether evs is a non-empty stream of team: every event
// carries it.
func ownedBy(evs []eventstore.RecordedEvent, team string) bool {
	if len(evs) == 0 {
		return false
	}
	for _, e := range evs {
		if e.Metadata.TeamID != team {
			return false
		}
	}
	return true
}

// auditEvents redacts what the audit views never show.
func auditEvents(evs []eventstore.RecordedEvent) ([]AuditEvent, error) {
	out := make([]AuditEvent, len(evs))
	for i, e := range evs {
		out[i] = AuditEvent{RecordedEvent: e}
		fields := redactedFields[e.Type]
		if len(fields) == 0 {
			continue
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return nil, fmt.Errorf("audit: event %s (%s): redact: %w", e.EventID, e.Type, err)
		}
		for _, f := range fields {
			if _, ok := data[f]; ok {
				data[f] = json.RawMessage(`"` + RedactedValue + `"`)
				out[i].Redacted = append(out[i].Redacted, "data."+f)
			}
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("audit: event %s (%s): redact: %w", e.EventID, e.Type, err)
		}
		out[i].Data = raw
	}
	return out, nil
}

func strList(d map[string]any, key string) []string {
	out := []string{}
	if l, ok := d[key].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func flag(d map[string]any, key string) bool {
	b, _ := d[key].(bool)
	return b
}
