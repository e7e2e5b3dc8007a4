package eventstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonicalJSON(t *testing.T) {
	want := `{"a":[1,2.50,{"x":null,"y":"é<>&"}],"b":true,"c":{"d":1e3,"e":-0}}`
	for _, in := range []string{
		want,
		`{"c":{"e":-0,"d":1e3},"b":true,"a":[1,2.50,{"y":"é<>&","x":null}]}`,
		"\n{ \"b\" : true ,\t\"a\": [ 1 , 2.50 , { \"y\": \"\\u00e9<>&\", \"x\": null } ],\r\n \"c\": {\"d\":1e3, \"e\":-0} }  ",
	} {
		got, err := CanonicalJSON([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, string(got), "key order and white space do not matter; numbers keep their text")
	}
	for _, bad := range []string{``, `{`, `{"a":1} {"b":2}`, `{"a":1}x`, `nope`} {
		_, err := CanonicalJSON([]byte(bad))
		assert.Error(t, err, bad)
	}
	for _, scalar := range []string{`"s"`, `12`, `null`, `[]`} {
		got, err := CanonicalJSON([]byte(scalar))
		require.NoError(t, err)
		assert.Equal(t, scalar, string(got))
	}
}

func sampleEvent() RecordedEvent {
	return RecordedEvent{
		EventID:       "0190a6c4-1f2e-7a3b-8c4d-5e6f7a8b9c0d",
		StreamID:      "scan-1",
		StreamType:    "scan_run",
		Version:       2,
		Position:      42,
		Type:          "ScanCompleted",
		SchemaVersion: 1,
		Data:          json.RawMessage(`{"findings":3}`),
		Metadata:      Metadata{TeamID: "team", Actor: "alice", CorrelationID: "c", CausationID: "k", CommandID: "cmd"},
		RecordedAt:    time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC),
		PrevHash:      "ab",
	}
}

// The hash of a fixed envelope is pinned: both backends and every stored
// chain depend on it, so a change to CanonicalBytes must be deliberate.
func TestComputeHashGolden(t *testing.T) {
	assert.Equal(t, goldenHash, ComputeHash(sampleEvent()))
}

// sha256 of 13:cspm-event-v1;6:scan-1;8:scan_run;1:2;…;24:2025-01-02T03:04:05.678Z;2:ab;
const goldenHash = "7304922180f9de30695c05fd04d198141f992c872ffbb94b3561fdad84078fa5"

// An event stored before route and idempotency_key existed, exactly as the
// SQLite adapter stored it (metadata column) and export wrote it: its hash
// must still verify, so CanonicalBytes may only add a field when it is set.
const storedBeforeRoute = `{"event_id":"0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b","stream_id":"scan-demo-1",` +
	`"stream_type":"ScanRun","version":2,"position":2,"type":"ScanStarted","schema_version":1,` +
	`"data":{"scan_id":"demo-1","started_at":"2025-06-01T12:00:01.5Z"},` +
	`"metadata":{"team_id":"default","actor":"anonymous","correlation_id":"0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a00","command_id":"0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a01"},` +
	`"recorded_at":"2025-06-01T12:00:01.5Z","prev_hash":"9c1f0e0a2d6b4f0c8e7a5b3d1f9e7c5a3b1d9f7e5c3a1b9d7f5e3c1a9b7d5f3e",` +
	`"hash":"` + storedBeforeRouteHash + `"}`

// The hash was computed by CanonicalBytes as it was before route and
// idempotency_key were added (commit fcc103b).
const storedBeforeRouteHash = "fe078b8b18978cddea45d278c4ef2d1ab8f831710823311befad3100c19ec9a3"

func TestOldEventsKeepTheirHash(t *testing.T) {
	var e RecordedEvent
	require.NoError(t, json.Unmarshal([]byte(storedBeforeRoute), &e))
	require.Empty(t, e.Metadata.Route)
	require.Empty(t, e.Metadata.IdempotencyKey)
	assert.Equal(t, storedBeforeRouteHash, ComputeHash(e), "an event stored before route/idempotency_key must verify")
	assert.Equal(t, goldenHash, ComputeHash(sampleEvent()))

	// Setting either field changes the hash; the two are told apart.
	withRoute, withKey := e, e
	withRoute.Metadata.Route = "x"
	withKey.Metadata.IdempotencyKey = "x"
	assert.NotEqual(t, e.Hash, ComputeHash(withRoute))
	assert.NotEqual(t, e.Hash, ComputeHash(withKey))
	assert.NotEqual(t, ComputeHash(withRoute), ComputeHash(withKey))
	both := e
	both.Metadata.Route, both.Metadata.IdempotencyKey = "POST /api/v1/scans", "k-1"
	assert.Equal(t, goldenHashWithRoute, ComputeHash(both), "pinned: the hash of an event with route and idempotency_key")
}

const goldenHashWithRoute = "e239f7a2778c7558808598f56da039a05418bece3ebd86be8c75228c3b826b27"

func TestComputeHashCoversEveryField(t *testing.T) {
	base := sampleEvent()
	h := ComputeHash(base)
	mutations := map[string]func(e *RecordedEvent){
		"EventID":        func(e *RecordedEvent) { e.EventID += "x" },
		"StreamID":       func(e *RecordedEvent) { e.StreamID += "x" },
		"StreamType":     func(e *RecordedEvent) { e.StreamType += "x" },
		"Version":        func(e *RecordedEvent) { e.Version++ },
		"Type":           func(e *RecordedEvent) { e.Type += "x" },
		"SchemaVersion":  func(e *RecordedEvent) { e.SchemaVersion++ },
		"Data":           func(e *RecordedEvent) { e.Data = json.RawMessage(`{"findings":4}`) },
		"TeamID":         func(e *RecordedEvent) { e.Metadata.TeamID += "x" },
		"Actor":          func(e *RecordedEvent) { e.Metadata.Actor += "x" },
		"CorrelationID":  func(e *RecordedEvent) { e.Metadata.CorrelationID += "x" },
		"CausationID":    func(e *RecordedEvent) { e.Metadata.CausationID += "x" },
		"CommandID":      func(e *RecordedEvent) { e.Metadata.CommandID += "x" },
		"Route":          func(e *RecordedEvent) { e.Metadata.Route = "POST /api/v1/scans" },
		"IdempotencyKey": func(e *RecordedEvent) { e.Metadata.IdempotencyKey = "k-1" },
		"RecordedAt":     func(e *RecordedEvent) { e.RecordedAt = e.RecordedAt.Add(time.Millisecond) },
		"PrevHash":       func(e *RecordedEvent) { e.PrevHash += "x" },
		"Extra":          func(e *RecordedEvent) { e.Metadata.Extra = map[string]json.RawMessage{"x": json.RawMessage(`1`)} },
		// Moving a character between adjacent fields must not collide.
		"field boundary": func(e *RecordedEvent) { e.StreamID, e.StreamType = "scan-1s", "can_run" },
	}
	for name, mutate := range mutations {
		e := base
		mutate(&e)
		assert.NotEqual(t, h, ComputeHash(e), "changing %s changes the hash", name)
	}
	// Every hashed field of the envelope is mutated above.
	fields := reflect.TypeFor[RecordedEvent]()
	for i := range fields.NumField() {
		switch name := fields.Field(i).Name; name {
		case "Position", "Hash", "LogHash": // not hashed: assigned by the store / the result / the global chain
		case "Metadata":
			for j := range reflect.TypeFor[Metadata]().NumField() {
				assert.Contains(t, mutations, reflect.TypeFor[Metadata]().Field(j).Name)
			}
		default:
			assert.Contains(t, mutations, name)
		}
	}

	e := base
	e.Position, e.Hash = 7, "whatever"
	assert.Equal(t, h, ComputeHash(e), "position and hash are not hashed")
	e.RecordedAt = base.RecordedAt.Add(999 * time.Microsecond).In(time.FixedZone("x", 7200))
	assert.Equal(t, h, ComputeHash(e), "recorded_at is hashed at millisecond precision in UTC")
}

func TestPrepare(t *testing.T) {
	given := uuid.Must(uuid.NewV7()).String()
	req := AppendRequest{
		StreamID: "s", StreamType: "t", Expected: Exact(3), Metadata: Metadata{TeamID: "team"},
		Events: []NewEvent{
			{EventID: given, Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{ "b":1, "a":2 }`)},
			{Type: "B", SchemaVersion: 2, Data: json.RawMessage(`[]`)},
		},
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, time.FixedZone("x", 3600))
	evs, err := Prepare(req, 3, "prev", now)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, given, evs[0].EventID)
	id, err := uuid.Parse(evs[1].EventID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version())
	assert.Equal(t, []int64{4, 5}, []int64{evs[0].Version, evs[1].Version})
	assert.Equal(t, `{"b":1,"a":2}`, string(evs[0].Data), "stored compacted, key order kept")
	assert.Equal(t, "prev", evs[0].PrevHash)
	assert.Equal(t, evs[0].Hash, evs[1].PrevHash)
	for _, e := range evs {
		assert.Equal(t, ComputeHash(e), e.Hash)
		assert.Equal(t, time.Date(2025, 6, 1, 11, 0, 0, 123_000_000, time.UTC), e.RecordedAt)
		assert.Equal(t, req.Metadata, e.Metadata)
		assert.Zero(t, e.Position)
	}

	req.Events[1].Data = json.RawMessage(`{`)
	_, err = Prepare(req, 0, "", now)
	assert.ErrorIs(t, err, ErrInvalidAppend)
}

func TestFingerprint(t *testing.T) {
	type cmd struct {
		B int               `json:"b"`
		A string            `json:"a"`
		M map[string]string `json:"m"`
	}
	f1, err := Fingerprint(cmd{B: 1, A: "x", M: map[string]string{"k": "v", "j": "w"}})
	require.NoError(t, err)
	f2, err := Fingerprint(map[string]any{"m": map[string]any{"j": "w", "k": "v"}, "a": "x", "b": 1})
	require.NoError(t, err)
	assert.Equal(t, f1, f2, "the same content in another shape has the same fingerprint")
	raw, err := Fingerprint(json.RawMessage(` {"b": 1, "a":"x", "m": {"k":"v","j":"w"}} `))
	require.NoError(t, err)
	assert.Equal(t, f1, raw)
	assert.Equal(t, fingerprintGolden, f1, "fingerprints are stable across releases")

	other, err := Fingerprint(cmd{B: 2, A: "x"})
	require.NoError(t, err)
	assert.NotEqual(t, f1, other)
	_, err = Fingerprint(func() {})
	assert.Error(t, err)
}

// sha256 of {"a":"x","b":1,"m":{"j":"w","k":"v"}}
const fingerprintGolden = "53bcbab72410b0c8582e9495ef3455518494c8bd495bd89d06d4a16aae7fcbc7"

// isCompact is true exactly when json.Compact would not change valid
// JSON, and a validated batch's already compact data is stored as given
// (prepare), with the hash Prepare gives it.
func TestIsCompactAgreesWithCompact(t *testing.T) {
	for _, doc := range []string{`{}`, `{"a":1}`, `{ "a":1}`, `{"a":"x y"}`, `{"a":"\" "}`, `{"a":"\\"}`, `{"a":"\\" }`,
		"[1,\n2]", `"a b"`, `"\\\" x"`, `{"a":["b", "c"]}`, `{"k":"tab\there"}`, "1 ", `{"e":"\u0020"}`} {
		if !json.Valid([]byte(doc)) {
			continue
		}
		compact, err := CompactJSON([]byte(doc))
		require.NoError(t, err)
		assert.Equal(t, string(compact) == doc, isCompact([]byte(doc)), doc)
	}
	req := AppendRequest{StreamID: "s", StreamType: "t", Metadata: Metadata{TeamID: "team", Route: "POST /x"},
		Events: []NewEvent{{Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{"a":"x y"}`)},
			{Type: "B", SchemaVersion: 1, Data: json.RawMessage(`{ "b": 2 }`)}}}
	now := time.Now()
	want, err := Prepare(req, 0, "", now)
	require.NoError(t, err)
	got, err := prepare(req, 0, "", now, true)
	require.NoError(t, err)
	for i := range want {
		got[i].EventID = want[i].EventID
		if i > 0 {
			got[i].PrevHash = want[i-1].Hash
		}
		got[i].Hash = ComputeHash(got[i])
	}
	assert.Equal(t, want, got)
	assert.Equal(t, `{"b":2}`, string(got[1].Data))
}

// Metadata that a JSON envelope cannot carry unchanged (invalid UTF-8)
// is refused before anything is written: stored, its hash could not be
// checked after an export or a trip over the bus.
func TestValidateRefusesInvalidUTF8Metadata(t *testing.T) {
	req := AppendRequest{StreamID: "s", StreamType: "t", Metadata: Metadata{TeamID: "team", Route: "POST /x\x80"},
		Events: []NewEvent{{Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}}
	err := req.Validate()
	require.ErrorIs(t, err, ErrInvalidAppend)
	assert.Contains(t, err.Error(), "metadata: route is not valid UTF-8")
	req.Metadata.Route = "POST /x é"
	require.NoError(t, req.Validate())
}
