package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The hash chain: within a stream, event v carries prev_hash = hash of event
// v-1 ("" for v = 1) and hash = sha256(canonical bytes of its envelope and
// data). The position is not in that hash: it is assigned by the store
// (after commit, on MongoDB). The global chain covers it instead: whoever
// assigns positions also assigns each event's log_hash, a keyed hash over
// the previous position's log_hash, the position and the event's hash
// (auditkey.go, LogHasher), so the order of the whole log is fixed too.

// NormalizeTime is the precision every backend stores (MongoDB dates are
// milliseconds), applied before hashing so both backends hash the same bytes.
func NormalizeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CanonicalJSON re-encodes JSON with object keys sorted and no insignificant
// white space; numbers keep their literal text.
func CanonicalJSON(data []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("canonical json: trailing data")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// CompactJSON validates data and removes insignificant white space. It is
// the form event data is stored and hashed in: both backends keep these exact
// bytes (MongoDB as a string), so the hash needs stable bytes, not sorted
// keys, and compacting is several times cheaper than a canonical re-encode.
func CompactJSON(data []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("compact json: %w", err)
	}
	return buf.Bytes(), nil
}

// CanonicalBytes are the bytes hashed for an event: a fixed field order,
// length-prefixed so no two envelopes share an encoding.
//
// Metadata fields added after the first release (route, idempotency_key)
// follow the fixed fields as name/value pairs, each pair only when its
// value is set: an event without them hashes exactly as it did before they
// existed, so stored chains keep verifying. The names keep two envelopes
// that set different optional fields apart. Any other key of the stored
// metadata (Metadata.Extra) follows as an ("extra", name, value) triple,
// so every key the store holds is hashed.
func CanonicalBytes(e RecordedEvent) []byte {
	return appendCanonical(make([]byte, 0, canonicalSize(&e)), &e, "")
}

// canonicalSize bounds the length of e's canonical bytes (the lengths'
// digits included), so that appendCanonical does not grow its buffer.
func canonicalSize(e *RecordedEvent) int {
	m := &e.Metadata
	n := len("cspm-event-v1") + len(e.StreamID) + len(e.StreamType) + len(e.EventID) + len(e.Type) + len(e.Data) +
		m.Size() + len(e.PrevHash) + len("idempotency_key") + len("route") + 20 + 11 + 35
	for k, v := range m.Extra {
		n += len("extra") + len(k) + len(v) + 3*22
	}
	return n + 17*22 // each field's length prefix and separators
}

// appendCanonical appends e's canonical bytes (CanonicalBytes) to b;
// recordedAt is e's normalized time in RFC 3339 (computed when empty).
func appendCanonical(b []byte, e *RecordedEvent, recordedAt string) []byte {
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
		b = append(b, ';')
	}
	fieldBytes := func(s []byte) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
		b = append(b, ';')
	}
	var num [20]byte
	field("cspm-event-v1")
	field(e.StreamID)
	field(e.StreamType)
	fieldBytes(strconv.AppendInt(num[:0], e.Version, 10))
	field(e.EventID)
	field(e.Type)
	fieldBytes(strconv.AppendInt(num[:0], int64(e.SchemaVersion), 10))
	fieldBytes(e.Data)
	field(e.Metadata.TeamID)
	field(e.Metadata.Actor)
	field(e.Metadata.CorrelationID)
	field(e.Metadata.CausationID)
	field(e.Metadata.CommandID)
	if recordedAt == "" {
		recordedAt = NormalizeTime(e.RecordedAt).Format(time.RFC3339Nano)
	}
	field(recordedAt)
	field(e.PrevHash)
	optional := func(name, value string) {
		if value != "" {
			field(name)
			field(value)
		}
	}
	optional("route", e.Metadata.Route)
	optional("idempotency_key", e.Metadata.IdempotencyKey)
	// Keys the store never writes (Metadata.Extra), sorted, each marked
	// as extra so that it cannot pass for an optional field above.
	if len(e.Metadata.Extra) > 0 {
		for _, k := range slices.Sorted(maps.Keys(e.Metadata.Extra)) {
			field("extra")
			field(k)
			fieldBytes(e.Metadata.Extra[k])
		}
	}
	return b
}

// ComputeHash is the chain hash of e (its PrevHash must be set).
func ComputeHash(e RecordedEvent) string {
	sum := sha256.Sum256(CanonicalBytes(e))
	return hex.EncodeToString(sum[:])
}

// hasher computes the hashes of one Prepare in a reused buffer.
type hasher struct {
	buf        []byte
	recordedAt string // the events' time, formatted once
}

func (h *hasher) hash(e *RecordedEvent) string {
	if h.recordedAt == "" {
		h.recordedAt = NormalizeTime(e.RecordedAt).Format(time.RFC3339Nano)
	}
	h.buf = appendCanonical(h.buf[:0], e, h.recordedAt)
	sum := sha256.Sum256(h.buf)
	return hex.EncodeToString(sum[:])
}

// isCompact reports whether valid JSON has no white space outside its
// strings, i.e. whether json.Compact would return it unchanged.
func isCompact(data []byte) bool {
	for i := 0; i < len(data); {
		switch data[i] {
		case '"': // skip the string (validJSON's scanner)
			j, ok := scanString(data, i)
			if !ok {
				return false // not valid JSON: let Compact judge it
			}
			i = j
		case ' ', '\t', '\n', '\r':
			return false
		default:
			i++
		}
	}
	return true
}

// Prepare turns a validated request into the events to store, for a stream
// whose head is (currentVersion, lastHash): versions, ids, compacted data,
// timestamps and hashes are filled in; positions are left to the adapter.
func Prepare(req AppendRequest, currentVersion int64, lastHash string, now time.Time) ([]RecordedEvent, error) {
	return prepare(req, currentVersion, lastHash, now, false)
}

// prepare is Prepare; validated says that req passed Validate (its data
// is valid JSON), so data already compact is kept as it is.
func prepare(req AppendRequest, currentVersion int64, lastHash string, now time.Time, validated bool) ([]RecordedEvent, error) {
	now = NormalizeTime(now)
	out := make([]RecordedEvent, len(req.Events))
	prev := lastHash
	var h hasher
	for i, ne := range req.Events {
		data := json.RawMessage(ne.Data)
		if !validated || !isCompact(data) {
			var err error
			if data, err = CompactJSON(ne.Data); err != nil {
				return nil, fmt.Errorf("%w: event %d: %w", ErrInvalidAppend, i, err)
			}
		}
		id := ne.EventID
		if id == "" {
			u, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("event id: %w", err)
			}
			id = u.String()
		}
		e := RecordedEvent{
			EventID:       id,
			StreamID:      req.StreamID,
			StreamType:    req.StreamType,
			Version:       currentVersion + int64(i) + 1,
			Type:          ne.Type,
			SchemaVersion: ne.SchemaVersion,
			Data:          data,
			Metadata:      req.Metadata,
			RecordedAt:    now,
			PrevHash:      prev,
		}
		e.Hash = h.hash(&e)
		prev = e.Hash
		out[i] = e
	}
	return out, nil
}

// Fingerprint is a stable digest of any JSON-encodable value, for
// Idempotency.Fingerprint (e.g. the command as received).
func Fingerprint(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	canon, ok := canonicalPlain(raw)
	if !ok {
		if canon, err = CanonicalJSON(raw); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalPlain is CanonicalJSON's bytes for json.Marshal output that
// holds no backslash (no escape in any string, so every string is the same
// bytes before and after a decode and re-encode), without decoding it into
// Go values: object members are sorted by key, everything else is kept
// as is. It reports false for anything else (a backslash, a repeated key,
// input it does not expect), which CanonicalJSON then handles: the bytes
// are the same either way, only the cost differs (a batch of 100 findings'
// fingerprint was a tenth of the batch route's CPU; decision 107).
func canonicalPlain(raw []byte) ([]byte, bool) {
	// json.Marshal escapes invalid UTF-8, U+2028 and U+2029 (a
	// re-encode would change them); checked anyway.
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) || bytes.Contains(raw, []byte("\u2028")) || bytes.Contains(raw, []byte("\u2029")) {
		return nil, false
	}
	p := plainCanon{in: raw, out: make([]byte, 0, len(raw))}
	if !p.value() || p.pos != len(raw) {
		return nil, false
	}
	return p.out, true
}

// plainCanon is canonicalPlain's parser: in is read from pos, the
// canonical form appended to out.
type plainCanon struct {
	in, out []byte
	pos     int
	scratch []byte // an object's members while they are sorted
}

func (p *plainCanon) value() bool {
	if p.pos >= len(p.in) {
		return false
	}
	switch p.in[p.pos] {
	case '{':
		return p.object()
	case '[':
		p.out = append(p.out, '[')
		p.pos++
		for i := 0; ; i++ {
			if p.pos >= len(p.in) {
				return false
			}
			if p.in[p.pos] == ']' {
				p.pos++
				p.out = append(p.out, ']')
				return true
			}
			if i > 0 {
				if p.in[p.pos] != ',' {
					return false
				}
				p.pos++
				p.out = append(p.out, ',')
			}
			if !p.value() {
				return false
			}
		}
	case '"':
		end := bytes.IndexByte(p.in[p.pos+1:], '"')
		if end < 0 {
			return false
		}
		p.out = append(p.out, p.in[p.pos:p.pos+end+2]...)
		p.pos += end + 2
		return true
	default: // a number, true, false or null: up to the next delimiter
		start := p.pos
		for p.pos < len(p.in) && p.in[p.pos] != ',' && p.in[p.pos] != ']' && p.in[p.pos] != '}' {
			switch c := p.in[p.pos]; {
			case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E',
				c >= 'a' && c <= 'z': // true, false, null
			default:
				return false
			}
			p.pos++
		}
		if p.pos == start {
			return false
		}
		p.out = append(p.out, p.in[start:p.pos]...)
		return true
	}
}

// object canonicalizes an object: each member ("key":value, its value
// canonical) is written to out as read, then the members are put in key
// order.
func (p *plainCanon) object() bool {
	type member struct {
		key        []byte
		start, end int // of "key":value in out
	}
	var members []member
	p.pos++ // {
	begin := len(p.out)
	for i := 0; ; i++ {
		if p.pos >= len(p.in) {
			return false
		}
		if p.in[p.pos] == '}' {
			p.pos++
			break
		}
		if i > 0 {
			if p.in[p.pos] != ',' {
				return false
			}
			p.pos++
		}
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return false
		}
		end := bytes.IndexByte(p.in[p.pos+1:], '"')
		if end < 0 || p.pos+end+2 >= len(p.in) || p.in[p.pos+end+2] != ':' {
			return false
		}
		m := member{key: p.in[p.pos+1 : p.pos+1+end], start: len(p.out)}
		p.out = append(p.out, p.in[p.pos:p.pos+end+3]...) // "key":
		p.pos += end + 3
		if !p.value() {
			return false
		}
		m.end = len(p.out)
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if bytes.Equal(members[i-1].key, members[i].key) {
			return false // a repeated key: decoding keeps the last one
		}
	}
	p.scratch = append(p.scratch[:0], p.out[begin:]...)
	p.out = append(p.out[:begin], '{')
	for i, m := range members {
		if i > 0 {
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, p.scratch[m.start-begin:m.end-begin]...)
	}
	p.out = append(p.out, '}')
	return true
}
