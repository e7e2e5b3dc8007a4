package platform_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
)

// command stamps events as one command's: its id, the request fields, and
// the team already on each event.
func command(id, actor, route, key string, evs ...projections.Event) []projections.Event {
	out := slices.Clone(evs)
	for i := range out {
		out[i].Metadata = eventstore.Metadata{
			TeamID: out[i].Metadata.TeamID, Actor: actor, Route: route, IdempotencyKey: key,
			CorrelationID: "corr-" + id, CommandID: id,
		}
		out[i].EventID = fmt.Sprintf("ev-%d", out[i].Position)
	}
	return out
}

// inStream puts the events in one stream.
func inStream(streamID string, evs []projections.Event) []projections.Event {
	for i := range evs {
		evs[i].StreamID = streamID
	}
	return evs
}

func TestAuditLogContract(t *testing.T) {
	t.Parallel()
	p := platform.NewAuditLog()
	assert.Equal(t, "platform.audit_log", p.Name())
	assert.Equal(t, dbregistry.PLATFORM, p.Database())
	assert.Equal(t, eventstore.NewDomainCodec().Types(), p.EventTypes(), "every event type of the codec")
	specs := p.Collections()
	require.Len(t, specs, 1)
	require.NoError(t, specs[0].Validate())
	var names []string
	for _, ix := range specs[0].Indexes {
		names = append(names, ix.Name)
		assert.Equal(t, "team_id", ix.Fields[0].Path, ix.Name)
		assert.Equal(t, readmodel.IndexField{Path: "position", Desc: true}, ix.Fields[len(ix.Fields)-1], ix.Name)
		assert.Zero(t, ix.TTL, "the audit log does not expire")
	}
	assert.Equal(t, []string{"by_team_position", "by_team_actor", "by_team_route"}, names)
}

func TestAuditLogOneEntryPerCommand(t *testing.T) {
	t.Parallel()
	var events []projections.Event
	events = append(events, command("cmd-1", "key:k1", "POST /api/v1/scans", "idem-1",
		inStream("scan-s1", stream("team-a", positions(1), request("s1", 0)))...)...)
	// A findings batch: three streams, one command, positions not contiguous.
	events = append(events, command("cmd-2", "key:k2", "POST /api/v1/scans/:id/findings", "",
		inStream("finding-f2", stream("team-a", positions(2), raise("f2", "s1", csdomain.SeverityHigh)))...)...)
	events = append(events, command("cmd-3", "key:k1", "POST /api/v1/scans/:id/start", "",
		inStream("scan-s1", stream("team-a", positions(3), start("s1")))...)...)
	events = append(events, command("cmd-2", "key:k2", "POST /api/v1/scans/:id/findings", "",
		inStream("finding-f1", stream("team-a", positions(4), raise("f1", "s1", csdomain.SeverityLow)))...)...)
	events = append(events, command("cmd-2", "key:k2", "POST /api/v1/scans/:id/findings", "",
		inStream("finding-f3", stream("team-a", positions(5), raise("f3", "s1", csdomain.SeverityLow)))...)...)
	// An event without a command id is an entry of its own.
	legacy := inStream("scan-s9", stream("team-a", positions(6), request("s9", 0)))
	legacy[0].EventID = "ev-legacy"
	events = append(events, legacy...)

	tx := apply(t, platform.NewAuditLog(), events...)
	require.Len(t, tx.Colls[platform.AuditLogCollection], 4)
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/cmd-2", "team_id": "team-a", "entry_id": "cmd-2", "command_id": "cmd-2",
		"actor": "key:k2", "route": "POST /api/v1/scans/:id/findings", "idempotency_key": "", "correlation_id": "corr-cmd-2",
		"first_position": int64(2), "position": int64(5), "event_count": int64(3),
		"position_runs": []any{int64(2), int64(2), int64(4), int64(5)},
		"stream_ids":    []any{"finding-f1", "finding-f2", "finding-f3"}, "streams_truncated": false,
		"event_types": []any{"FindingRaised"}, "recorded_at": at(2 * time.Millisecond),
	}, tx.Doc(t, platform.AuditLogCollection, "team-a/cmd-2"))
	first := tx.Doc(t, platform.AuditLogCollection, "team-a/cmd-1")
	assert.Equal(t, "idem-1", first["idempotency_key"])
	assert.Equal(t, int64(1), first["position"])
	assert.Equal(t, []any{"ScanRequested"}, first["event_types"])
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/event:ev-legacy", "team_id": "team-a", "entry_id": "event:ev-legacy", "command_id": "",
		"actor": "", "route": "", "idempotency_key": "", "correlation_id": "",
		"first_position": int64(6), "position": int64(6), "event_count": int64(1), "position_runs": []any{int64(6), int64(6)},
		"stream_ids": []any{"scan-s9"}, "streams_truncated": false,
		"event_types": []any{"ScanRequested"}, "recorded_at": at(6 * time.Millisecond),
	}, tx.Doc(t, platform.AuditLogCollection, "team-a/event:ev-legacy"))
}

// TestAuditLogRedelivery: applying any event again changes nothing.
func TestAuditLogRedelivery(t *testing.T) {
	t.Parallel()
	events := command("cmd-1", "a", "r", "",
		inStream("scan-s1", stream("team-a", positions(1, 2, 3), request("s1", 0), start("s1"), complete("s1")))...)
	want := apply(t, platform.NewAuditLog(), events...).Colls
	var twice []projections.Event
	for _, ev := range events {
		twice = append(twice, ev, ev)
	}
	twice = append(twice, events...)
	assert.Equal(t, want, apply(t, platform.NewAuditLog(), twice...).Colls)
	assert.Equal(t, int64(3), want[platform.AuditLogCollection]["team-a/cmd-1"]["event_count"])
}

// TestAuditLogBoundsStreamIDs: a command over many streams lists the
// MaxAuditStreamIDs smallest stream ids and says there were more.
func TestAuditLogBoundsStreamIDs(t *testing.T) {
	t.Parallel()
	n := platform.MaxAuditStreamIDs + 5
	var streams [][]projections.Event
	for i := range n {
		id := fmt.Sprintf("f%02d", (i*7)%n) // not in id order
		streams = append(streams, command("cmd-1", "a", "r", "k",
			inStream("finding-"+id, stream("team-a", positions(int64(i+1)), raise(id, "s1", csdomain.SeverityLow)))...))
	}
	tx := apply(t, platform.NewAuditLog(), slices.Concat(streams...)...)
	d := tx.Doc(t, platform.AuditLogCollection, "team-a/cmd-1")
	var want []any
	for i := range platform.MaxAuditStreamIDs {
		want = append(want, fmt.Sprintf("finding-f%02d", i))
	}
	assert.Equal(t, want, d["stream_ids"])
	assert.Equal(t, true, d["streams_truncated"])
	assert.Equal(t, int64(n), d["event_count"])
	assertOrderIndependent(t, platform.NewAuditLog(), streams)

	exact := apply(t, platform.NewAuditLog(), slices.Concat(streams[:platform.MaxAuditStreamIDs]...)...)
	for _, d := range exact.Colls[platform.AuditLogCollection] {
		assert.Equal(t, false, d["streams_truncated"], "exactly MaxAuditStreamIDs streams are not truncated")
		assert.Len(t, d["stream_ids"], platform.MaxAuditStreamIDs)
	}
}

// TestAuditLogOrderIndependent: commands of two teams over several
// streams, a batch spread across streams, in hundreds of interleavings.
func TestAuditLogOrderIndependent(t *testing.T) {
	t.Parallel()
	var streams [][]projections.Event
	pos := int64(0)
	next := func() int64 { pos++; return pos }
	for s := range 6 {
		team := []string{"team-a", "team-b"}[s%2]
		id := fmt.Sprintf("s%d", s)
		scan := slices.Concat(
			command(fmt.Sprintf("req-%d", s), "alice", "POST /api/v1/scans", "",
				inStream("scan-"+id, stream(team, positions(next()), request(id, 0)))...),
			command(fmt.Sprintf("start-%d", s), "bob", "POST /api/v1/scans/:id/start", "k",
				inStream("scan-"+id, stream(team, positions(next()), start(id)))...),
		)
		for i := range scan {
			scan[i].Version = int64(i + 1)
		}
		streams = append(streams, scan)
		for f := range 3 {
			fid := fmt.Sprintf("f%d-%d", s, f)
			streams = append(streams, command(fmt.Sprintf("batch-%d", s), "carol", "POST /api/v1/scans/:id/findings", "",
				inStream("finding-"+fid, stream(team, positions(next()), raise(fid, id, csdomain.SeverityHigh)))...))
		}
	}
	assertOrderIndependent(t, platform.NewAuditLog(), streams)
}

// TestAuditLogTeamIsolation: the same command id in two teams makes two
// entries; events without a team are ignored.
func TestAuditLogTeamIsolation(t *testing.T) {
	t.Parallel()
	events := slices.Concat(
		command("cmd-1", "a", "r", "", inStream("scan-s1", stream("team-a", positions(1), request("s1", 0)))...),
		command("cmd-1", "b", "r", "", inStream("scan-s2", stream("team-b", positions(2), request("s2", 0)))...),
		command("cmd-2", "c", "r", "", inStream("scan-s3", stream("", positions(3), request("s3", 0)))...),
	)
	tx := apply(t, platform.NewAuditLog(), events...)
	require.Len(t, tx.Colls[platform.AuditLogCollection], 2)
	assert.Equal(t, "a", tx.Doc(t, platform.AuditLogCollection, "team-a/cmd-1")["actor"])
	assert.Equal(t, "b", tx.Doc(t, platform.AuditLogCollection, "team-b/cmd-1")["actor"])
}
