package relay

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/eventstore"
)

// The payload of every message is the JSON of eventstore.RecordedEvent as
// encoding/json writes it without HTML escaping (marshalEnvelope), and
// without its log hash: the global chain is the store's audit data, which
// consumers do not need (and the envelope they parse keeps its shape). Text
// travels as stored, so a message is as large as its event, not up to six
// times larger. appendEnvelope produces exactly those bytes without
// reflection (it is about five times faster, and encoding is a good share
// of the relay's CPU per event). It is used only while the envelope's
// fields are the ones it was written for, and for metadata without extra
// keys (which only tampering puts there); if eventstore.RecordedEvent or
// Metadata change, the relay falls back to encoding/json until it is
// updated (envelope_test.go fails meanwhile).

var (
	recordedEventFields = []string{"event_id", "stream_id", "stream_type", "version", "position", "type",
		"schema_version", "data", "metadata", "recorded_at", "prev_hash", "hash", "log_hash,omitempty"}
	metadataFields = []string{"team_id,omitempty", "actor,omitempty", "correlation_id,omitempty",
		"causation_id,omitempty", "command_id,omitempty", "route,omitempty", "idempotency_key,omitempty", "-"}

	fastEnvelope = slices.Equal(jsonTags(reflect.TypeFor[eventstore.RecordedEvent]()), recordedEventFields) &&
		slices.Equal(jsonTags(reflect.TypeFor[eventstore.Metadata]()), metadataFields)
)

func jsonTags(t reflect.Type) []string {
	tags := make([]string, t.NumField())
	for i := range tags {
		tags[i] = t.Field(i).Tag.Get("json")
	}
	return tags
}

// encodeEnvelope returns the JSON envelope of e (without its log hash).
func encodeEnvelope(e *eventstore.RecordedEvent) ([]byte, error) {
	if _, offset := e.RecordedAt.Zone(); !fastEnvelope || offset%60 != 0 ||
		e.RecordedAt.Year() < 0 || e.RecordedAt.Year() > 9999 || len(e.Metadata.Extra) > 0 {
		bus := *e
		bus.LogHash = ""
		return marshalEnvelope(&bus) // what encoding/json does with odd times, errors included
	}
	b := make([]byte, 0, 384+len(e.Data))
	b = append(b, `{"event_id":`...)
	b = appendString(b, e.EventID)
	b = append(b, `,"stream_id":`...)
	b = appendString(b, e.StreamID)
	b = append(b, `,"stream_type":`...)
	b = appendString(b, e.StreamType)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, e.Position, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, `,"data":`...)
	var err error
	if b, err = appendRaw(b, e.Data); err != nil {
		return nil, err
	}
	b = append(b, `,"metadata":{`...)
	n := len(b)
	b = appendOptional(b, n, `"team_id":`, e.Metadata.TeamID)
	b = appendOptional(b, n, `"actor":`, e.Metadata.Actor)
	b = appendOptional(b, n, `"correlation_id":`, e.Metadata.CorrelationID)
	b = appendOptional(b, n, `"causation_id":`, e.Metadata.CausationID)
	b = appendOptional(b, n, `"command_id":`, e.Metadata.CommandID)
	b = appendOptional(b, n, `"route":`, e.Metadata.Route)
	b = appendOptional(b, n, `"idempotency_key":`, e.Metadata.IdempotencyKey)
	b = append(b, `},"recorded_at":"`...)
	b = e.RecordedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","prev_hash":`...)
	b = appendString(b, e.PrevHash)
	b = append(b, `,"hash":`...)
	b = appendString(b, e.Hash)
	b = append(b, '}')
	return b, nil
}

// appendOptional appends key:value (comma-separated after the object's
// first member at start) unless value is empty (omitempty).
func appendOptional(b []byte, start int, key, value string) []byte {
	if value == "" {
		return b
	}
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, key...)
	return appendString(b, value)
}

// marshalEnvelope is json.Marshal(e) without HTML escaping.
func marshalEnvelope(e *eventstore.RecordedEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// appendRaw appends a json.RawMessage as encoding/json does without HTML
// escaping: null when empty, otherwise validated and compacted.
func appendRaw(b, raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return append(b, "null"...), nil
	}
	if !needsCompact(raw) && json.Valid(raw) {
		return append(b, raw...), nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	return append(b, compact.Bytes()...), nil
}

// needsCompact reports bytes that compacting would change: white space
// (and other bytes <= ' ', invalid in JSON anyway; a false positive is
// only slower).
func needsCompact(raw []byte) bool {
	for _, c := range raw {
		if c <= ' ' {
			return true
		}
	}
	return false
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// without HTML escaping (U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
