package mongo

import (
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Collection names inside the event-store database.
const (
	collEvents      = "events"
	collStreams     = "streams"
	collIdempotency = "idempotency"
	collSequencer   = "sequencer"
	collAuditMeta   = "audit_meta"
	collCheckpoints = "checkpoints"

	// sequencerID is the _id of the single sequencer document.
	sequencerID = "global"
	// auditMetaID is the _id of the single audit_meta document.
	auditMetaID = "audit"
)

// eventDoc is one stored event. _id is the event id (unique by construction).
// Data holds the exact canonical JSON bytes as a BSON string, so the hash
// chain recomputes byte for byte. Position and LogHash are absent and
// Pending is true until the sequencer stamps the event; stamping sets the
// first two and unsets the other in the same write.
type eventDoc struct {
	ID            string      `bson:"_id"`
	StreamID      string      `bson:"stream_id"`
	StreamType    string      `bson:"stream_type"`
	Version       int64       `bson:"version"`
	Position      int64       `bson:"position,omitempty"`
	Pending       bool        `bson:"pending,omitempty"`
	Type          string      `bson:"type"`
	SchemaVersion int         `bson:"schema_version"`
	Data          string      `bson:"data"`
	Metadata      metadataDoc `bson:"metadata"`
	RecordedAt    time.Time   `bson:"recorded_at"`
	PrevHash      string      `bson:"prev_hash"`
	Hash          string      `bson:"hash"`
	LogHash       string      `bson:"log_hash,omitempty"`
	// Batch, BatchSeq and BatchLen make the events of one append of more
	// than one event a sequencing unit: Batch is the id of the unit's
	// first event, BatchSeq the event's index in the unit (request order),
	// BatchLen the unit's size. The sequencer stamps a unit whole, in one
	// round, at consecutive positions in BatchSeq order. Absent for an
	// append of one event (a unit of its own) and in documents stored
	// before batches existed; never hashed.
	Batch    string `bson:"batch,omitempty"`
	BatchSeq int    `bson:"batch_seq,omitempty"`
	BatchLen int    `bson:"batch_len,omitempty"`
}

type metadataDoc struct {
	TeamID        string `bson:"team_id"`
	Actor         string `bson:"actor"`
	CorrelationID string `bson:"correlation_id"`
	CausationID   string `bson:"causation_id"`
	CommandID     string `bson:"command_id"`
	// Added later: absent from older documents, omitted when empty.
	Route          string `bson:"route,omitempty"`
	IdempotencyKey string `bson:"idempotency_key,omitempty"`
	// Extra is every other element of a stored document (never written by
	// the store), as canonical JSON (see UnmarshalBSON).
	Extra map[string]json.RawMessage `bson:"-"`
}

// UnmarshalBSON reads a stored metadata document strictly, so that the
// hash covers every element it holds: keys match exactly (the driver
// would also match them lower-cased), and anything else (another key, a
// known key holding a non-string, or an empty route or idempotency_key,
// which the store omits) lands in Extra as canonical extended JSON.
func (m *metadataDoc) UnmarshalBSON(b []byte) error {
	*m = metadataDoc{}
	elems, err := bson.Raw(b).Elements()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	for _, el := range elems {
		key, v := el.Key(), el.Value()
		if dst, always := m.field(key); dst != nil {
			if s, ok := v.StringValueOK(); ok && (s != "" || always) {
				*dst = s
				continue
			}
		}
		if m.Extra == nil {
			m.Extra = map[string]json.RawMessage{}
		}
		m.Extra[key] = extJSON(v)
	}
	return nil
}

// field is the field stored under key, and whether the store always writes
// it (even empty); nil for another key.
func (m *metadataDoc) field(key string) (dst *string, always bool) {
	switch key {
	case "team_id":
		return &m.TeamID, true
	case "actor":
		return &m.Actor, true
	case "correlation_id":
		return &m.CorrelationID, true
	case "causation_id":
		return &m.CausationID, true
	case "command_id":
		return &m.CommandID, true
	case "route":
		return &m.Route, false
	case "idempotency_key":
		return &m.IdempotencyKey, false
	}
	return nil, false
}

// extJSON is v as canonical JSON: its extended JSON text, or that text as
// a JSON string when it is not valid JSON.
func extJSON(v bson.RawValue) json.RawMessage {
	text := v.String()
	if canon, err := eventstore.CanonicalJSON([]byte(text)); err == nil {
		return canon
	}
	quoted, _ := json.Marshal(text)
	return quoted
}

// streamDoc is a stream head: the version, hash and time of its last
// committed event. LastRecordedAt keeps recorded_at non-decreasing within a
// stream whatever the appenders' clocks, so an as-of read (Until) is a prefix.
type streamDoc struct {
	ID             string    `bson:"_id"`
	StreamType     string    `bson:"stream_type"`
	Version        int64     `bson:"version"`
	LastHash       string    `bson:"last_hash"`
	LastRecordedAt time.Time `bson:"last_recorded_at"`
}

// idempotencyDoc is the outcome of the first append under a key (_id).
// Positions are not stored: they do not exist at commit time and are
// re-read from the events. MAC authenticates the rest
// (eventstore.IdempotencyMAC); absent from documents stored before it
// existed until the sequencer leader signs them.
type idempotencyDoc struct {
	Key         string    `bson:"_id"`
	Fingerprint string    `bson:"fingerprint"`
	StreamID    string    `bson:"stream_id"`
	EventIDs    []string  `bson:"event_ids"`
	Version     int64     `bson:"version"`
	CreatedAt   time.Time `bson:"created_at"`
	MAC         string    `bson:"mac,omitempty"`
}

// sequencerDoc holds the lease (holder, expiry on the server clock, fencing
// token) and the next position to assign. ChainedTo and LogHash are the
// head of the global chain: the last position with a log hash, and that
// hash. They equal Next-1 and its log hash after every round; a document
// from before the global chain (both absent: 0, "") makes the leader chain
// the stored events first (sequencer.backfill).
type sequencerDoc struct {
	ID         string    `bson:"_id"`
	Holder     string    `bson:"holder"`
	LeaseUntil time.Time `bson:"lease_until"`
	Token      int64     `bson:"token"`
	Next       int64     `bson:"next"`
	ChainedTo  int64     `bson:"chained_to"`
	LogHash    string    `bson:"log_hash"`
}

// auditMetaDoc is the store's identity: a random store id given when the
// document is created, and the id of the audit key the store is chained
// with (absent until the first chaining).
type auditMetaDoc struct {
	ID      string `bson:"_id"`
	StoreID string `bson:"store_id"`
	KeyID   string `bson:"key_id,omitempty"`
}

// checkpointDoc is one checkpoint of the history; _id is its MAC (a
// checkpoint saved twice is one document).
type checkpointDoc struct {
	MAC      string    `bson:"_id"`
	StoreID  string    `bson:"store_id"`
	Position int64     `bson:"position"`
	LogHash  string    `bson:"log_hash"`
	TakenAt  time.Time `bson:"taken_at"`
	Reason   string    `bson:"reason"`
}

func (d checkpointDoc) checkpoint() eventstore.Checkpoint {
	return eventstore.Checkpoint{StoreID: d.StoreID, Position: d.Position, LogHash: d.LogHash,
		TakenAt: eventstore.NormalizeTime(d.TakenAt), Reason: d.Reason, MAC: d.MAC}
}

// toEventDoc maps an event to its document. Position 0 means "not yet
// sequenced": the document is stored pending, without a position.
func toEventDoc(e eventstore.RecordedEvent) eventDoc {
	return eventDoc{
		ID:            e.EventID,
		StreamID:      e.StreamID,
		StreamType:    e.StreamType,
		Version:       e.Version,
		Position:      e.Position,
		Pending:       e.Position == 0,
		Type:          e.Type,
		SchemaVersion: e.SchemaVersion,
		Data:          string(e.Data),
		Metadata: metadataDoc{
			TeamID:         e.Metadata.TeamID,
			Actor:          e.Metadata.Actor,
			CorrelationID:  e.Metadata.CorrelationID,
			CausationID:    e.Metadata.CausationID,
			CommandID:      e.Metadata.CommandID,
			Route:          e.Metadata.Route,
			IdempotencyKey: e.Metadata.IdempotencyKey,
		},
		RecordedAt: eventstore.NormalizeTime(e.RecordedAt),
		PrevHash:   e.PrevHash,
		Hash:       e.Hash,
		LogHash:    e.LogHash,
	}
}

// recorded maps a document back; Position is 0 while the event is pending.
func (d eventDoc) recorded() eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		EventID:       d.ID,
		StreamID:      d.StreamID,
		StreamType:    d.StreamType,
		Version:       d.Version,
		Position:      d.Position,
		Type:          d.Type,
		SchemaVersion: d.SchemaVersion,
		Data:          json.RawMessage(d.Data),
		Metadata: eventstore.Metadata{
			TeamID:         d.Metadata.TeamID,
			Actor:          d.Metadata.Actor,
			CorrelationID:  d.Metadata.CorrelationID,
			CausationID:    d.Metadata.CausationID,
			CommandID:      d.Metadata.CommandID,
			Route:          d.Metadata.Route,
			IdempotencyKey: d.Metadata.IdempotencyKey,
			Extra:          d.Metadata.Extra,
		},
		RecordedAt: eventstore.NormalizeTime(d.RecordedAt),
		PrevHash:   d.PrevHash,
		Hash:       d.Hash,
		LogHash:    d.LogHash,
	}
}

func (d streamDoc) info() eventstore.StreamInfo {
	return eventstore.StreamInfo{StreamID: d.ID, StreamType: d.StreamType, Version: d.Version, LastHash: d.LastHash}
}

// result is the stored outcome with the given positions, as the first
// append returned it (Duplicate false).
func (d idempotencyDoc) result(positions []int64) eventstore.AppendResult {
	return eventstore.AppendResult{
		StreamID:  d.StreamID,
		Version:   d.Version,
		Positions: positions,
		EventIDs:  append([]string(nil), d.EventIDs...),
	}
}
