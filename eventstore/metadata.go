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
func (m Metadata) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(metadataFields(m))
	if err != nil || len(m.Extra) == 0 {
		return b, err
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
// The common case, a document exactly as the store writes it, costs one
// decode and one encode: the decoded fields re-encode to the same bytes.
// Anything else takes a slower path that finds every key.
func DecodeMetadata(b []byte) (Metadata, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return Metadata{}, nil
	}
	var f metadataFields
	if err := json.Unmarshal(b, &f); err == nil {
		if again, err := json.Marshal(f); err == nil && bytes.Equal(again, b) {
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
