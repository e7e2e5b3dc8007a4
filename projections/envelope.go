package projections

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// decodeEnvelope parses a message's payload, the JSON envelope of
// eventstore.RecordedEvent the relay writes. The envelope has a fixed
// shape, and a parser for it is about ten times faster than encoding/json
// (which was the live loop's largest cost per event). Anything it does
// not expect — an unknown field, a null, a number where a string belongs —
// goes to encoding/json, which decides.
func decodeEnvelope(data []byte, rec *eventstore.RecordedEvent) error {
	if parseEnvelope(data, rec) {
		return nil
	}
	*rec = eventstore.RecordedEvent{}
	return json.Unmarshal(data, rec)
}

func parseEnvelope(data []byte, rec *eventstore.RecordedEvent) bool {
	s := scanner{b: data}
	return s.object(func(key string) bool {
		var ok bool
		switch key {
		case "event_id":
			rec.EventID, ok = s.str()
		case "stream_id":
			rec.StreamID, ok = s.str()
		case "stream_type":
			rec.StreamType, ok = s.str()
		case "version":
			rec.Version, ok = s.int()
		case "position":
			rec.Position, ok = s.int()
		case "type":
			rec.Type, ok = s.str()
		case "schema_version":
			var v int64
			v, ok = s.int()
			rec.SchemaVersion = int(v)
			ok = ok && int64(rec.SchemaVersion) == v
		case "data":
			// Aliased, not copied: a delivered message's data is its own
			// buffer. The codec's decode rejects data that is not valid JSON.
			rec.Data, ok = s.value()
		case "metadata":
			ok = s.object(func(key string) bool {
				var ok bool
				switch key {
				case "team_id":
					rec.Metadata.TeamID, ok = s.str()
				case "actor":
					rec.Metadata.Actor, ok = s.str()
				case "correlation_id":
					rec.Metadata.CorrelationID, ok = s.str()
				case "causation_id":
					rec.Metadata.CausationID, ok = s.str()
				case "command_id":
					rec.Metadata.CommandID, ok = s.str()
				case "route":
					rec.Metadata.Route, ok = s.str()
				case "idempotency_key":
					rec.Metadata.IdempotencyKey, ok = s.str()
				}
				return ok
			})
		case "recorded_at":
			var v string
			if v, ok = s.str(); ok {
				var err error
				rec.RecordedAt, err = time.Parse(time.RFC3339Nano, v)
				ok = err == nil
			}
		case "prev_hash":
			rec.PrevHash, ok = s.str()
		case "hash":
			rec.Hash, ok = s.str()
		}
		return ok
	}) && s.end()
}

// scanner reads the JSON the relay writes. Every method reports false on
// anything else.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// object reads {"key": value, ...}, calling field for each key with the
// scanner before the value.
func (s *scanner) object(field func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.key()
		if !ok || !s.next(':') || !field(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str reads a string; one with escapes is handed to encoding/json.
func (s *scanner) str() (string, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i
	escaped := false
	for i := start + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '\\':
			escaped = true
			i++
		case c == '"':
			s.i = i + 1
			if !escaped {
				return string(s.b[start+1 : i]), true
			}
			var v string
			if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
				return "", false
			}
			return v, true
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// key reads an object key. Keys the envelope knows are plain ASCII, so a
// key with an escape is returned as it is written (it then matches no
// known key and its value is skipped); known keys come back as constants,
// without an allocation.
func (s *scanner) key() (string, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '\\':
			i++
		case c == '"':
			s.i = i + 1
			return internKey(s.b[start:i]), true
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// internKey returns the envelope's key constants without allocating
// (the compiler does not allocate for a switch on string(b)).
func internKey(b []byte) string {
	switch string(b) {
	case "event_id":
		return "event_id"
	case "stream_id":
		return "stream_id"
	case "stream_type":
		return "stream_type"
	case "version":
		return "version"
	case "position":
		return "position"
	case "type":
		return "type"
	case "schema_version":
		return "schema_version"
	case "data":
		return "data"
	case "metadata":
		return "metadata"
	case "recorded_at":
		return "recorded_at"
	case "prev_hash":
		return "prev_hash"
	case "hash":
		return "hash"
	case "team_id":
		return "team_id"
	case "actor":
		return "actor"
	case "correlation_id":
		return "correlation_id"
	case "causation_id":
		return "causation_id"
	case "command_id":
		return "command_id"
	case "route":
		return "route"
	case "idempotency_key":
		return "idempotency_key"
	}
	return string(b)
}

// int reads a JSON integer that fits an int64.
func (s *scanner) int() (int64, bool) {
	s.ws()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start := s.i
	var v uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		s.i++
	}
	n := s.i - start
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// value returns the bytes of the next value, scanned loosely: the event
// data it reads is checked when the codec decodes it.
func (s *scanner) value() ([]byte, bool) {
	s.ws()
	start := s.i
	if !s.skip() {
		return nil, false
	}
	return s.b[start:s.i], true
}

// skip moves past one value, loosely (value validates it).
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		for i := s.i + 1; i < len(s.b); i++ {
			switch s.b[i] {
			case '\\':
				i++
			case '"':
				s.i = i + 1
				return true
			}
		}
		return false
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.skip() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default: // a number, true, false or null
		start := s.i
		for s.i < len(s.b) && strings.IndexByte(",}] \t\r\n", s.b[s.i]) < 0 {
			s.i++
		}
		return s.i > start
	}
}
