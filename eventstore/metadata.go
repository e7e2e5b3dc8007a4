package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// metadataFields is Metadata without its methods (and without Extra,
// which encoding/json skips): the form the store writes.
type metadataFields Metadata

// MarshalJSON writes the known fields as encoding/json would, then the
// Extra keys, sorted: an event read back with extra keys exports as stored.
// It leaves HTML escaping to the caller's encoder (json.Marshal escapes,
// an Encoder with SetEscapeHTML(false) does not), as for any struct.
func (m Metadata) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(metadataFields(m)); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(m.Extra) == 0 {
		return b, nil
	}
	b = b[:len(b)-1] // drop '}'
	for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		v := m.Extra[k]
		if !json.Valid(v) {
			return nil, fmt.Errorf("metadata: extra key %q: invalid JSON value", k)
		}
		b = append(append(append(b, name...), ':'), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads stored metadata. Keys are matched exactly (not
// case-insensitively as encoding/json does); anything but a non-empty
// string under a known key (the store omits empty fields), and any other
// key, lands in Extra, so that it is hashed.
func (m *Metadata) UnmarshalJSON(b []byte) error {
	md, err := DecodeMetadata(b)
	if err != nil {
		return err
	}
	*m = md
	return nil
}

// DecodeMetadata decodes a stored metadata document (see UnmarshalJSON).
// The common case, a document as the store writes it (distinct known keys,
// non-empty string values), is recognized by one scan of its bytes and
// decoded by encoding/json; anything else takes a slower path that finds
// every key.
func DecodeMetadata(b []byte) (Metadata, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return Metadata{}, nil
	}
	if plainMetadata(b) {
		var f metadataFields
		if err := json.Unmarshal(b, &f); err == nil {
			return Metadata(f), nil
		}
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return Metadata{}, fmt.Errorf("metadata: %w", err)
	}
	var m Metadata
	for k, raw := range all {
		// The store writes known keys only with a non-empty string.
		if dst := m.field(k); dst != nil && len(raw) > 2 && raw[0] == '"' {
			if err := json.Unmarshal(raw, dst); err == nil {
				continue
			}
		}
		canon, err := CanonicalJSON(raw)
		if err != nil {
			canon = raw
		}
		if m.Extra == nil {
			m.Extra = map[string]json.RawMessage{}
		}
		m.Extra[k] = canon
	}
	return m, nil
}

// field is the known field stored under key, exactly; nil for another key.
func (m *Metadata) field(key string) *string {
	switch key {
	case "team_id":
		return &m.TeamID
	case "actor":
		return &m.Actor
	case "correlation_id":
		return &m.CorrelationID
	case "causation_id":
		return &m.CausationID
	case "command_id":
		return &m.CommandID
	case "route":
		return &m.Route
	case "idempotency_key":
		return &m.IdempotencyKey
	}
	return nil
}

// metadataKeys are the keys the store writes, by bit.
var metadataKeys = map[string]uint8{
	"team_id": 1 << 0, "actor": 1 << 1, "correlation_id": 1 << 2, "causation_id": 1 << 3,
	"command_id": 1 << 4, "route": 1 << 5, "idempotency_key": 1 << 6,
}

// plainMetadata reports whether b is a JSON object whose keys are distinct
// known keys, written without escapes, each holding a non-empty string:
// what the store writes. It does not validate the strings' contents
// (encoding/json does); false only means "take the slow path".
func plainMetadata(b []byte) bool {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	// str scans a string at i; it returns its raw contents and whether it
	// had an escape.
	str := func() (raw []byte, escaped, ok bool) {
		if i >= len(b) || b[i] != '"' {
			return nil, false, false
		}
		start := i + 1
		for j := start; j < len(b); j++ {
			switch b[j] {
			case '\\':
				escaped = true
				j++
			case '"':
				i = j + 1
				return b[start:j], escaped, true
			}
		}
		return nil, false, false
	}
	var seen uint8
	ws()
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	ws()
	if i < len(b) && b[i] == '}' {
		i++
		ws()
		return i == len(b)
	}
	for {
		ws()
		key, escaped, ok := str()
		if !ok || escaped {
			return false
		}
		bit := metadataKeys[string(key)]
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		ws()
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i++
		ws()
		val, _, ok := str()
		if !ok || len(val) == 0 {
			return false
		}
		ws()
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			i++
			ws()
			return i == len(b)
		default:
			return false
		}
	}
}
