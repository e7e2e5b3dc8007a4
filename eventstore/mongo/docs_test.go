package mongo

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/eventstore"
)

func prepared(t *testing.T) []eventstore.RecordedEvent {
	t.Helper()
	req := eventstore.AppendRequest{
		StreamID:   "finding-1",
		StreamType: "Finding",
		Expected:   eventstore.NoStream,
		Events: []eventstore.NewEvent{
			{Type: "FindingOpened", SchemaVersion: 2, Data: json.RawMessage(`{"z": 1.50, "a": "é\u2028<b>", "n": [1e3, null, true], "big": 12345678901234567890}`)},
			{EventID: "0190b1a4-0000-7000-8000-000000000001", Type: "FindingSuppressed", SchemaVersion: 1, Data: json.RawMessage(`{}`)},
		},
		Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "user:1", CorrelationID: "corr", CausationID: "cause", CommandID: "cmd",
			Route: "POST /api/v1/scans/:id/findings", IdempotencyKey: "key-1"},
	}
	now := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("X", 3600))
	evs, err := eventstore.Prepare(req, 0, "", now)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func roundTrip(t *testing.T, d eventDoc) (eventDoc, bson.Raw) {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	raw := bson.Raw(b)
	var back eventDoc
	if err := bson.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	return back, raw
}

func TestEventDocRoundTrip(t *testing.T) {
	for i, e := range prepared(t) {
		e.Position = int64(41 + i)
		back, raw := roundTrip(t, toEventDoc(e))
		got := back.recorded()
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", got, e)
		}
		if string(got.Data) != string(e.Data) {
			t.Fatalf("data bytes changed: %q != %q", got.Data, e.Data)
		}
		if h := eventstore.ComputeHash(got); h != e.Hash {
			t.Fatalf("hash after round trip %s, stored %s", h, e.Hash)
		}
		if got.RecordedAt.Location() != time.UTC || got.RecordedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("recorded_at %v: want UTC milliseconds", got.RecordedAt)
		}
		// Stored types: data is a string (exact bytes), recorded_at a date,
		// position an int64, no pending flag once sequenced.
		if typ := raw.Lookup("data").Type; typ != bson.TypeString {
			t.Fatalf("data stored as %v, want string", typ)
		}
		if typ := raw.Lookup("recorded_at").Type; typ != bson.TypeDateTime {
			t.Fatalf("recorded_at stored as %v, want date", typ)
		}
		if v, ok := raw.Lookup("position").Int64OK(); !ok || v != e.Position {
			t.Fatalf("position stored as %v", raw.Lookup("position"))
		}
		if _, err := raw.LookupErr("pending"); err == nil {
			t.Fatal("a sequenced event must not be pending")
		}
		if id := raw.Lookup("_id").StringValue(); id != e.EventID {
			t.Fatalf("_id %q, want the event id %q", id, e.EventID)
		}
		if team := raw.Lookup("metadata", "team_id").StringValue(); team != "team-a" {
			t.Fatalf("metadata.team_id = %q", team)
		}
		if route := raw.Lookup("metadata", "route").StringValue(); route != "POST /api/v1/scans/:id/findings" {
			t.Fatalf("metadata.route = %q", route)
		}
		if key := raw.Lookup("metadata", "idempotency_key").StringValue(); key != "key-1" {
			t.Fatalf("metadata.idempotency_key = %q", key)
		}
	}
}

func TestEventDocPendingHasNoPosition(t *testing.T) {
	e := prepared(t)[0] // Position 0: not sequenced yet
	back, raw := roundTrip(t, toEventDoc(e))
	if _, err := raw.LookupErr("position"); err == nil {
		t.Fatal("an unsequenced event must have no position field (the unique partial index skips it)")
	}
	if !raw.Lookup("pending").Boolean() {
		t.Fatal("an unsequenced event must be pending")
	}
	if got := back.recorded(); got.Position != 0 || eventstore.ComputeHash(got) != e.Hash {
		t.Fatalf("pending event round trip: %+v", got)
	}
}

func TestEmptyMetadataRoundTrip(t *testing.T) {
	e := prepared(t)[1]
	e.Metadata = eventstore.Metadata{}
	e.Hash = eventstore.ComputeHash(e)
	back, _ := roundTrip(t, toEventDoc(e))
	if got := back.recorded(); !reflect.DeepEqual(got, e) || eventstore.ComputeHash(got) != e.Hash {
		t.Fatalf("got %+v, want %+v", got, e)
	}
}

// Documents written before route and idempotency_key existed have no such
// fields: they read back empty and the event's hash still verifies; an
// event without them is written without them.
func TestMetadataWithoutRouteRoundTrip(t *testing.T) {
	e := prepared(t)[0]
	e.Position = 9
	e.Metadata.Route, e.Metadata.IdempotencyKey = "", ""
	e.Hash = eventstore.ComputeHash(e)
	back, raw := roundTrip(t, toEventDoc(e))
	for _, field := range []string{"route", "idempotency_key"} {
		if _, err := raw.LookupErr("metadata", field); err == nil {
			t.Fatalf("metadata.%s stored although empty", field)
		}
	}
	if got := back.recorded(); !reflect.DeepEqual(got, e) || eventstore.ComputeHash(got) != e.Hash {
		t.Fatalf("got %+v, want %+v", got, e)
	}

	// A document as an older release wrote it.
	old, err := bson.Marshal(bson.D{
		{Key: "_id", Value: e.EventID}, {Key: "stream_id", Value: e.StreamID}, {Key: "stream_type", Value: e.StreamType},
		{Key: "version", Value: e.Version}, {Key: "position", Value: e.Position}, {Key: "type", Value: e.Type},
		{Key: "schema_version", Value: e.SchemaVersion}, {Key: "data", Value: string(e.Data)},
		{Key: "metadata", Value: bson.D{
			{Key: "team_id", Value: e.Metadata.TeamID}, {Key: "actor", Value: e.Metadata.Actor},
			{Key: "correlation_id", Value: e.Metadata.CorrelationID}, {Key: "causation_id", Value: e.Metadata.CausationID},
			{Key: "command_id", Value: e.Metadata.CommandID},
		}},
		{Key: "recorded_at", Value: e.RecordedAt}, {Key: "prev_hash", Value: e.PrevHash}, {Key: "hash", Value: e.Hash},
	})
	if err != nil {
		t.Fatal(err)
	}
	var d eventDoc
	if err := bson.Unmarshal(old, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.recorded(); !reflect.DeepEqual(got, e) || eventstore.ComputeHash(got) != e.Hash {
		t.Fatalf("old document read as %+v, want %+v", got, e)
	}
}

func TestHeadAndIdempotencyDocs(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).UTC()
	b, err := bson.Marshal(streamDoc{ID: "s", StreamType: "T", Version: 3, LastHash: "h", LastRecordedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	raw := bson.Raw(b)
	var sd streamDoc
	if err := bson.Unmarshal(raw, &sd); err != nil {
		t.Fatal(err)
	}
	if want := (eventstore.StreamInfo{StreamID: "s", StreamType: "T", Version: 3, LastHash: "h"}); sd.info() != want {
		t.Fatalf("stream info %+v", sd.info())
	}
	if raw.Lookup("_id").StringValue() != "s" || raw.Lookup("version").Int64() != 3 {
		t.Fatalf("stream doc %v", raw)
	}

	d := idempotencyDoc{Key: "k", Fingerprint: "fp", StreamID: "s", EventIDs: []string{"a", "b"}, Version: 5, CreatedAt: at}
	b, err = bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	raw = bson.Raw(b)
	var back idempotencyDoc
	if err := bson.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	res := back.result([]int64{7, 8})
	want := eventstore.AppendResult{StreamID: "s", Version: 5, Positions: []int64{7, 8}, EventIDs: []string{"a", "b"}}
	if !reflect.DeepEqual(res, want) || raw.Lookup("_id").StringValue() != "k" {
		t.Fatalf("idempotency result %+v", res)
	}
}

// A stored metadata document is read strictly: any element the store does
// not write lands in Extra, so the event's hash no longer verifies.
func TestMetadataExtraElements(t *testing.T) {
	e := prepared(t)[0]
	e.Position = 3
	base := []bson.E{
		{Key: "team_id", Value: "team-a"}, {Key: "actor", Value: ""}, {Key: "correlation_id", Value: ""},
		{Key: "causation_id", Value: ""}, {Key: "command_id", Value: "cmd"},
	}
	for name, tc := range map[string]struct {
		extra []bson.E
		want  map[string]json.RawMessage
	}{
		"none":          {nil, nil},
		"added string":  {[]bson.E{{Key: "approved_by", Value: "mallory"}}, map[string]json.RawMessage{"approved_by": json.RawMessage(`"mallory"`)}},
		"added number":  {[]bson.E{{Key: "n", Value: int32(5)}}, map[string]json.RawMessage{"n": json.RawMessage(`{"$numberInt":"5"}`)}},
		"added doc":     {[]bson.E{{Key: "d", Value: bson.D{{Key: "b", Value: "x"}, {Key: "a", Value: true}}}}, map[string]json.RawMessage{"d": json.RawMessage(`{"a":true,"b":"x"}`)}},
		"other case":    {[]bson.E{{Key: "TEAM_ID", Value: "team-a"}}, map[string]json.RawMessage{"TEAM_ID": json.RawMessage(`"team-a"`)}},
		"empty route":   {[]bson.E{{Key: "route", Value: ""}}, map[string]json.RawMessage{"route": json.RawMessage(`""`)}},
		"non-string id": {[]bson.E{{Key: "idempotency_key", Value: int64(1)}}, map[string]json.RawMessage{"idempotency_key": json.RawMessage(`{"$numberLong":"1"}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			md := bson.D(append(append([]bson.E(nil), base...), tc.extra...))
			raw, err := bson.Marshal(bson.D{{Key: "_id", Value: e.EventID}, {Key: "metadata", Value: md}})
			if err != nil {
				t.Fatal(err)
			}
			var d eventDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			got := d.recorded().Metadata
			if got.TeamID != "team-a" || got.CommandID != "cmd" {
				t.Fatalf("known fields %+v", got)
			}
			if !reflect.DeepEqual(got.Extra, tc.want) {
				t.Fatalf("extra %s, want %s", fmtExtra(got.Extra), fmtExtra(tc.want))
			}
			ev := e
			ev.Metadata = got
			plain := ev
			plain.Metadata.Extra = nil
			if (eventstore.ComputeHash(ev) != eventstore.ComputeHash(plain)) != (tc.want != nil) {
				t.Fatal("the extra elements are hashed, and only they")
			}
		})
	}
}

func fmtExtra(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// Documents of the sequencer and audit metadata from before the global
// chain decode with its head at 0 and no key id; the checkpoint filter
// pages in (position, taken_at, _id) order.
func TestAuditDocs(t *testing.T) {
	old, err := bson.Marshal(bson.D{{Key: "_id", Value: sequencerID}, {Key: "holder", Value: ""}, {Key: "token", Value: int64(3)}, {Key: "next", Value: int64(42)}})
	if err != nil {
		t.Fatal(err)
	}
	var sd sequencerDoc
	if err := bson.Unmarshal(old, &sd); err != nil {
		t.Fatal(err)
	}
	if sd.Next != 42 || sd.ChainedTo != 0 || sd.LogHash != "" {
		t.Fatalf("old sequencer document %+v: the chain must be behind", sd)
	}

	b, err := bson.Marshal(auditMetaDoc{ID: auditMetaID, StoreID: "st"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bson.Raw(b).LookupErr("key_id"); err == nil {
		t.Fatal("an unclaimed store has no key_id element (the claim's filter tests its absence)")
	}

	if f := checkpointsAfter(eventstore.Checkpoint{}); len(f) != 0 {
		t.Fatalf("from the start: %v", f)
	}
	at := time.UnixMilli(1_700_000_000_123).UTC()
	f := checkpointsAfter(eventstore.Checkpoint{Position: 5, TakenAt: at, MAC: "m"})
	want := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "position", Value: bson.D{{Key: "$gt", Value: int64(5)}}}},
		bson.D{{Key: "position", Value: int64(5)}, {Key: "taken_at", Value: bson.D{{Key: "$gt", Value: at}}}},
		bson.D{{Key: "position", Value: int64(5)}, {Key: "taken_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: "m"}}}},
	}}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("filter %v", f)
	}

	cp := checkpointDoc{MAC: "m", StoreID: "st", Position: 5, LogHash: "lh", TakenAt: at, Reason: "stop"}
	b, err = bson.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	var back checkpointDoc
	if err := bson.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.checkpoint(); got != (eventstore.Checkpoint{StoreID: "st", Position: 5, LogHash: "lh", TakenAt: at, Reason: "stop", MAC: "m"}) {
		t.Fatalf("checkpoint %+v", got)
	}
}

// The events of one append of several events are one sequencing unit: each
// document names the unit (its first event's id), its index and the
// unit's size, and reads back as the same pendingEvent; a single event
// carries none of it. The unit fields are not part of the envelope.
func TestEventDocsMarkABatchAsOneUnit(t *testing.T) {
	evs := prepared(t)
	docs := eventDocs(evs)
	for i, d := range docs {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var p pendingEvent
		if err := bson.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.Batch != evs[0].EventID || p.BatchSeq != i || p.BatchLen != len(evs) || p.unit() != evs[0].EventID {
			t.Fatalf("event %d: unit fields %+v", i, p)
		}
		var back eventDoc
		if err := bson.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := back.recorded(); !reflect.DeepEqual(got, evs[i]) {
			t.Fatalf("event %d: round trip %+v, want %+v", i, got, evs[i])
		}
	}
	b, err := bson.Marshal(eventDocs(evs[:1])[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"batch", "batch_seq", "batch_len"} {
		if _, err := bson.Raw(b).LookupErr(f); err == nil {
			t.Fatalf("a single event has %s", f)
		}
	}
	var p pendingEvent
	if err := bson.Unmarshal(b, &p); err != nil || p.unit() != evs[0].EventID {
		t.Fatalf("a single event is a unit of its own: %+v %v", p, err)
	}
}

// A batch's head writes: an insert for a stream it creates, an update
// guarded by the version read for a stream it extends; both at the
// batch's recording time.
func TestHeadModels(t *testing.T) {
	key, err := eventstore.NewAuditKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := []eventstore.AppendRequest{
		{StreamID: "new", StreamType: "T", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
			Idempotency: eventstore.Idempotency{Key: "k", Fingerprint: "f"}},
		{StreamID: "old", StreamType: "T", Expected: eventstore.Exact(4), Events: []eventstore.NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}},
	}
	at := time.UnixMilli(1_700_000_000_123).UTC()
	plan, err := eventstore.PlanBatch(reqs, nil, func([]string) (map[string]eventstore.StreamHead, time.Time, error) {
		return map[string]eventstore.StreamHead{"old": {StreamType: "T", Version: 4, LastHash: "h4"}}, at, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	models, updates := headModels(plan)
	if len(models) != 2 || updates != 1 {
		t.Fatalf("%d models, %d updates", len(models), updates)
	}
	ins := models[0].(*mongo.InsertOneModel).Document.(streamDoc)
	if ins.ID != "new" || ins.Version != 1 || ins.LastHash != plan.Events[0].Hash || !ins.LastRecordedAt.Equal(at) {
		t.Fatalf("insert %+v", ins)
	}
	up := models[1].(*mongo.UpdateOneModel)
	if want := (bson.D{{Key: "_id", Value: "old"}, {Key: "version", Value: int64(4)}}); !reflect.DeepEqual(up.Filter, want) {
		t.Fatalf("update filter %v", up.Filter)
	}
	set := up.Update.(bson.D)[0].Value.(bson.D)
	if set[0].Value != int64(5) || set[1].Value != plan.Events[1].Hash || !set[2].Value.(time.Time).Equal(at) {
		t.Fatalf("update %v", set)
	}

	s := &Store{opts: Options{AuditKey: key}}
	docs := s.idempotencyDocs(reqs, plan)
	if len(docs) != 1 {
		t.Fatalf("%d idempotency documents, want 1 (only the keyed request)", len(docs))
	}
	d := docs[0].(idempotencyDoc)
	if d.StreamID != "new" || d.Version != 1 || !reflect.DeepEqual(d.EventIDs, []string{plan.Events[0].EventID}) ||
		d.MAC != eventstore.IdempotencyMAC(key, "k", "f", d.result(nil)) {
		t.Fatalf("idempotency document %+v", d)
	}
}
