package mongo

import (
	"encoding/json"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Collection names inside the event-store database.
const (
	collEvents      = "events"
	collStreams     = "streams"
	collIdempotency = "idempotency"
	collSequencer   = "sequencer"

	// sequencerID is the _id of the single sequencer document.
	sequencerID = "global"
)

// eventDoc is one stored event. _id is the event id (unique by construction).
// Data holds the exact canonical JSON bytes as a BSON string, so the hash
// chain recomputes byte for byte. Position is absent and Pending is true
// until the sequencer stamps the event; stamping sets the one and unsets the
// other in the same write.
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
// re-read from the events.
type idempotencyDoc struct {
	Key         string    `bson:"_id"`
	Fingerprint string    `bson:"fingerprint"`
	StreamID    string    `bson:"stream_id"`
	EventIDs    []string  `bson:"event_ids"`
	Version     int64     `bson:"version"`
	CreatedAt   time.Time `bson:"created_at"`
}

// sequencerDoc holds the lease (holder, expiry on the server clock, fencing
// token) and the next position to assign.
type sequencerDoc struct {
	ID         string    `bson:"_id"`
	Holder     string    `bson:"holder"`
	LeaseUntil time.Time `bson:"lease_until"`
	Token      int64     `bson:"token"`
	Next       int64     `bson:"next"`
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
		},
		RecordedAt: eventstore.NormalizeTime(d.RecordedAt),
		PrevHash:   d.PrevHash,
		Hash:       d.Hash,
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
