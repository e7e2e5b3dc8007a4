package eventstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// renamedV3 is the current shape; v1 had "name", v2 split it into
// "first"/"last", v3 adds "full".
type renamedV3 struct {
	First string `json:"first"`
	Last  string `json:"last"`
	Full  string `json:"full"`
}

func renameCodec(t *testing.T) *Codec {
	t.Helper()
	c := NewCodec()
	c.Register("Renamed", &renamedV3{}, 3, map[int]Upcaster{
		1: func(data json.RawMessage) (json.RawMessage, error) {
			var v1 struct{ Name string }
			if err := json.Unmarshal(data, &v1); err != nil {
				return nil, err
			}
			first, last, _ := strings.Cut(v1.Name, " ")
			return json.Marshal(map[string]string{"first": first, "last": last})
		},
		2: func(data json.RawMessage) (json.RawMessage, error) {
			var v2 map[string]string
			if err := json.Unmarshal(data, &v2); err != nil {
				return nil, err
			}
			if v2["first"] == "" {
				return nil, errors.New("first name missing")
			}
			v2["full"] = v2["first"] + " " + v2["last"]
			return json.Marshal(v2)
		},
	})
	c.Register("Created", struct{ ID string }{}, 1, nil)
	return c
}

func TestCodecUpcastChain(t *testing.T) {
	c := renameCodec(t)
	for name, e := range map[string]RecordedEvent{
		"v1": {Type: "Renamed", SchemaVersion: 1, Data: json.RawMessage(`{"name":"Ada Lovelace"}`)},
		"v2": {Type: "Renamed", SchemaVersion: 2, Data: json.RawMessage(`{"first":"Ada","last":"Lovelace"}`)},
		"v3": {Type: "Renamed", SchemaVersion: 3, Data: json.RawMessage(`{"first":"Ada","last":"Lovelace","full":"Ada Lovelace"}`)},
	} {
		got, err := c.Decode(e)
		require.NoError(t, err, name)
		assert.Equal(t, renamedV3{First: "Ada", Last: "Lovelace", Full: "Ada Lovelace"}, got, name)
	}
	data, err := c.Upcast(RecordedEvent{Type: "Renamed", SchemaVersion: 1, Data: json.RawMessage(`{"name":"Ada Lovelace"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"first":"Ada","last":"Lovelace","full":"Ada Lovelace"}`, string(data))
}

func TestCodecErrors(t *testing.T) {
	c := renameCodec(t)
	_, err := c.Decode(RecordedEvent{Type: "Nope", SchemaVersion: 1, Data: json.RawMessage(`{}`)})
	assert.ErrorIs(t, err, ErrUnknownEventType)
	for _, v := range []int{0, -1, 4} {
		_, err := c.Decode(RecordedEvent{Type: "Renamed", SchemaVersion: v, Data: json.RawMessage(`{}`)})
		assert.ErrorIs(t, err, ErrUnknownEventType, "schema version %d", v)
	}
	_, err = c.Decode(RecordedEvent{Type: "Renamed", SchemaVersion: 2, Data: json.RawMessage(`{}`)})
	assert.ErrorContains(t, err, "first name missing", "an upcaster's error is reported")
	assert.NotErrorIs(t, err, ErrUnknownEventType)
	_, err = c.Decode(RecordedEvent{Type: "Renamed", SchemaVersion: 3, Data: json.RawMessage(`{"first":1}`)})
	assert.ErrorContains(t, err, "decode Renamed")
	_, err = c.Encode(struct{ X int }{})
	assert.ErrorIs(t, err, ErrUnknownEventType)
}

func TestCodecEncode(t *testing.T) {
	c := renameCodec(t)
	ne, err := c.Encode(renamedV3{First: "A"})
	require.NoError(t, err)
	assert.Equal(t, "Renamed", ne.Type)
	assert.Equal(t, 3, ne.SchemaVersion)
	assert.JSONEq(t, `{"first":"A","last":"","full":""}`, string(ne.Data))
	ne, err = c.Encode(&renamedV3{})
	require.NoError(t, err, "pointers encode as their element type")
	assert.Equal(t, "Renamed", ne.Type)
	assert.Equal(t, []string{"Created", "Renamed"}, c.Types())

	// Text is stored as written: no HTML escaping (a '<' escaped as \u003c
	// is six bytes, which once made a 180 KB command a 1 MB event).
	ne, err = c.Encode(renamedV3{First: "<b>&</b>", Last: "\u2028"})
	require.NoError(t, err)
	assert.Equal(t, `{"first":"<b>&</b>","last":"\u2028","full":""}`, string(ne.Data))
}

func TestCodecRegisterRejectsMistakes(t *testing.T) {
	c := renameCodec(t)
	assert.Panics(t, func() { c.Register("Renamed", struct{}{}, 1, nil) }, "registered twice")
	assert.Panics(t, func() { NewCodec().Register("X", struct{}{}, 3, map[int]Upcaster{1: nil}) }, "missing upcaster")
}
