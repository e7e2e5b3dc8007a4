package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Upcaster turns the JSON of an event at schema version v into version v+1.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

type registration struct {
	typ       reflect.Type
	current   int
	upcasters map[int]Upcaster // from version -> to version+1
}

// Codec maps event type names to Go types and upcasts old schema versions on
// read. Stored events are never rewritten: an event stored at v1 is read as
// the current version through the chain v1→v2→…→current.
type Codec struct {
	types map[string]*registration
	names map[reflect.Type]string
	// Crypto-shredding (privacy.go): the personal fields by event type,
	// sealed under the subjects' keys when keys is set.
	personal map[string][]PersonalField
	keys     SubjectKeys
}

// NewCodec returns an empty codec.
func NewCodec() *Codec {
	return &Codec{types: map[string]*registration{}, names: map[reflect.Type]string{}}
}

// Register maps name to the type of sample (a struct value) at schema version
// current. upcasters[v] upgrades v to v+1 and must exist for 1 <= v < current.
func (c *Codec) Register(name string, sample any, current int, upcasters map[int]Upcaster) {
	t := reflect.TypeOf(sample)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, dup := c.types[name]; dup {
		panic(fmt.Sprintf("eventstore: event type %q registered twice", name))
	}
	for v := 1; v < current; v++ {
		if upcasters[v] == nil {
			panic(fmt.Sprintf("eventstore: event type %q: no upcaster from v%d", name, v))
		}
	}
	c.types[name] = &registration{typ: t, current: current, upcasters: upcasters}
	c.names[t] = name
}

// Types lists the registered type names, sorted.
func (c *Codec) Types() []string {
	out := make([]string, 0, len(c.types))
	for n := range c.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Encode returns the type name, current schema version and JSON of ev,
// its personal fields sealed (privacy.go) for no team: EncodeFor seals
// them for the team the event is appended for.
func (c *Codec) Encode(ev any) (NewEvent, error) { return c.EncodeFor("", ev) }

// EncodeFor is Encode, the personal fields sealed under the keys of their
// subjects in team.
func (c *Codec) EncodeFor(team string, ev any) (NewEvent, error) {
	t := reflect.TypeOf(ev)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name, ok := c.names[t]
	if !ok {
		return NewEvent{}, fmt.Errorf("%w: go type %s", ErrUnknownEventType, t)
	}
	data, err := marshalData(ev)
	if err != nil {
		return NewEvent{}, fmt.Errorf("encode %s: %w", name, err)
	}
	if data, err = c.seal(team, name, data); err != nil {
		return NewEvent{}, fmt.Errorf("encode %s: %w", name, err)
	}
	return NewEvent{Type: name, SchemaVersion: c.types[name].current, Data: data}, nil
}

// Upcast returns the data of e brought to the current schema version.
func (c *Codec) Upcast(e RecordedEvent) (json.RawMessage, error) {
	reg, ok := c.types[e.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q (event %s, stream %s v%d)", ErrUnknownEventType, e.Type, e.EventID, e.StreamID, e.Version)
	}
	if e.SchemaVersion < 1 || e.SchemaVersion > reg.current {
		return nil, fmt.Errorf("%w: %q schema version %d (known 1..%d)", ErrUnknownEventType, e.Type, e.SchemaVersion, reg.current)
	}
	data, err := c.Unseal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("%s (event %s): %w", e.Type, e.EventID, err)
	}
	for v := e.SchemaVersion; v < reg.current; v++ {
		up, err := reg.upcasters[v](data)
		if err != nil {
			return nil, fmt.Errorf("upcast %s v%d→v%d (event %s): %w", e.Type, v, v+1, e.EventID, err)
		}
		data = up
	}
	return data, nil
}

// Decode returns the event as a value of its registered Go type (not a pointer).
func (c *Codec) Decode(e RecordedEvent) (any, error) {
	data, err := c.Upcast(e)
	if err != nil {
		return nil, err
	}
	ptr := reflect.New(c.types[e.Type].typ)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("decode %s (event %s): %w", e.Type, e.EventID, err)
	}
	return ptr.Elem().Interface(), nil
}

// marshalData is json.Marshal without HTML escaping: event data is stored
// as the caller wrote it ('<' stays one byte, not the six of \u003c), so a
// text's size in the store and on the bus is its size in the command.
func marshalData(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
