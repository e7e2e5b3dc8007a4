package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// auditWorld is a real event store written through the command handlers,
// the read models projected from it, and the audit queries over both.
type auditWorld struct {
	store    *sqlite.Store
	scans    *orchcmd.Handlers
	findings *cscmd.Handlers
	keys     *platformcmd.Handlers
	codec    *eventstore.Codec
	now      time.Time
	audit    *platform.Audit
}

func newAuditWorld(t *testing.T) *auditWorld {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	w := &auditWorld{store: store, codec: eventstore.NewDomainCodec(), now: qt.T0}
	kit := commands.NewKit(store, w.codec, func() time.Time { w.now = w.now.Add(time.Second); return w.now })
	w.scans, w.findings, w.keys = orchcmd.New(kit), cscmd.New(kit), platformcmd.New(kit)
	return w
}

// project seeds the read models from everything stored and builds the
// audit queries.
func (w *auditWorld) project(t *testing.T) {
	t.Helper()
	recorded, err := w.store.ReadAll(t.Context(), 0, 10000)
	require.NoError(t, err)
	var decoded []projections.Event
	for _, rec := range recorded {
		data, err := w.codec.Decode(rec)
		require.NoError(t, err)
		decoded = append(decoded, projections.Event{RecordedEvent: rec, Data: data})
	}
	e := newEnv(t, decoded)
	w.audit = platform.NewAudit(platform.AuditDeps{
		Log:    e.Stores[dbregistry.PLATFORM],
		Events: w.store,
		State:  func(evs []eventstore.RecordedEvent) (any, error) { return commands.State(w.codec, evs) },
	})
}

func meta(team, actor, route, key string) commands.Meta {
	return commands.Meta{TeamID: team, Actor: actor, CorrelationID: "corr-" + route, Route: route, IdempotencyKey: key}
}

func entryRoutes(l platform.AuditList) []string {
	return qt.IDs(l.Items, func(e platform.AuditEntry) string { return e.Route })
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	w := newAuditWorld(t)
	ctx := t.Context()
	_, err := w.scans.RequestScan(ctx, meta("team-a", "alice", "POST /api/v1/scans", "k1"), orchcmd.RequestScan{ScanID: "s1", AccountID: "acc", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	// An idempotent replay appends nothing: no entry.
	_, err = w.scans.RequestScan(ctx, meta("team-a", "alice", "POST /api/v1/scans", "k1"), orchcmd.RequestScan{ScanID: "s1", AccountID: "acc", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	_, err = w.scans.StartScan(ctx, meta("team-a", "bob", "POST /api/v1/scans/:id/start", ""), orchcmd.StartScan{ScanID: "s1"})
	require.NoError(t, err)
	batch, err := w.findings.RaiseFindings(ctx, meta("team-a", "bob", "POST /api/v1/scans/:id/findings", ""), cscmd.RaiseFindings{ScanID: "s1", Findings: []cscmd.FindingInput{
		{FindingID: "f2", CheckID: "c", Title: "t", Severity: "high", ResourceID: "r"},
		{FindingID: "f1", CheckID: "c", Title: "t", Severity: "low", ResourceID: "r"},
	}})
	require.NoError(t, err)
	_, err = w.scans.RequestScan(ctx, meta("team-b", "eve", "POST /api/v1/scans", ""), orchcmd.RequestScan{ScanID: "s9", AccountID: "acc", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	w.project(t)

	all, err := w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST /api/v1/scans/:id/findings", "POST /api/v1/scans/:id/start", "POST /api/v1/scans"}, entryRoutes(all), "newest first; no entry for the replay")
	assert.Empty(t, all.NextCursor)

	b := all.Items[0]
	assert.Equal(t, b.CommandID, b.ID)
	assert.Equal(t, "team-a", b.TeamID)
	assert.Equal(t, "bob", b.Actor)
	assert.Equal(t, "corr-POST /api/v1/scans/:id/findings", b.CorrelationID)
	assert.Equal(t, int64(2), b.EventCount)
	assert.Equal(t, batch.Position, b.Position)
	assert.Equal(t, batch.Position-1, b.FirstPosition)
	assert.Equal(t, []string{"finding-f1", "finding-f2"}, b.StreamIDs)
	assert.Equal(t, []string{"FindingRaised"}, b.EventTypes)
	assert.False(t, b.StreamsTruncated)
	assert.False(t, b.RecordedAt.IsZero())
	assert.Equal(t, "k1", all.Items[2].IdempotencyKey)
	assert.Equal(t, int64(1), all.Items[2].Position)

	byActor, err := w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{Actor: "alice"}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST /api/v1/scans"}, entryRoutes(byActor))
	byRoute, err := w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{Route: "POST /api/v1/scans/:id/start", Actor: "bob"}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST /api/v1/scans/:id/start"}, entryRoutes(byRoute))
	other, err := w.audit.AuditLog(ctx, "team-b", platform.AuditFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"POST /api/v1/scans"}, entryRoutes(other), "team b sees only its own")
	assert.Equal(t, "eve", other.Items[0].Actor)

	// Pages.
	var got []string
	page := queries.Page{Limit: 2}
	for {
		l, err := w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{}, page)
		require.NoError(t, err)
		got = append(got, entryRoutes(l)...)
		if l.NextCursor == "" {
			break
		}
		page.Cursor = l.NextCursor
	}
	assert.Equal(t, entryRoutes(all), got)

	_, err = w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{}, queries.Page{Cursor: "nope"})
	requireField(t, err, "cursor")
	_, err = w.audit.AuditLog(ctx, "team-a", platform.AuditFilter{Actor: string(make([]byte, 300))}, queries.Page{})
	requireField(t, err, "actor")
	_, err = w.audit.AuditLog(ctx, "", platform.AuditFilter{}, queries.Page{})
	assert.ErrorIs(t, err, queries.ErrNoTeam)
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Fields, 1)
	assert.Equal(t, field, ve.Fields[0].Field)
}

func TestAuditStreams(t *testing.T) {
	t.Parallel()
	w := newAuditWorld(t)
	ctx := t.Context()
	a := meta("team-a", "alice", "r", "")
	_, err := w.scans.RequestScan(ctx, a, orchcmd.RequestScan{ScanID: "s1", AccountID: "acc", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond) // recorded_at has millisecond precision
	_, err = w.scans.StartScan(ctx, a, orchcmd.StartScan{ScanID: "s1"})
	require.NoError(t, err)
	_, err = w.scans.CompleteScan(ctx, a, orchcmd.CompleteScan{ScanID: "s1", ResourceCount: 3})
	require.NoError(t, err)
	_, err = w.scans.RequestScan(ctx, meta("team-b", "eve", "r", ""), orchcmd.RequestScan{ScanID: "s9", AccountID: "acc", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	w.project(t)

	evs, err := w.audit.StreamEvents(ctx, "team-a", "scan-s1")
	require.NoError(t, err)
	require.Len(t, evs, 3)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Version)
		assert.Equal(t, eventstore.ComputeHash(e.RecordedEvent), e.Hash, "shown as stored")
		assert.Empty(t, e.Redacted)
		assert.Equal(t, "r", e.Metadata.Route)
	}
	assert.Equal(t, evs[0].Hash, evs[1].PrevHash)

	for _, tc := range []struct{ team, stream string }{{"team-a", "scan-s9"}, {"team-b", "scan-s1"}, {"team-a", "scan-nope"}} {
		_, err := w.audit.StreamEvents(ctx, tc.team, tc.stream)
		assert.ErrorIs(t, err, queries.ErrNotFound, "%s reading %s", tc.team, tc.stream)
		_, err = w.audit.StreamState(ctx, tc.team, tc.stream, eventstore.AsOf{})
		assert.ErrorIs(t, err, queries.ErrNotFound, "%s replaying %s", tc.team, tc.stream)
	}

	st, err := w.audit.StreamState(ctx, "team-a", "scan-s1", eventstore.AsOf{})
	require.NoError(t, err)
	assert.Nil(t, st.AsOf)
	assert.Equal(t, "ScanRun", st.StreamType)
	assert.Equal(t, int64(3), st.Version)
	assert.Len(t, st.Events, 3)
	assert.Equal(t, orchestration.StatusCompleted, st.State.(orchestration.ScanRunState).Status)

	st, err = w.audit.StreamState(ctx, "team-a", "scan-s1", eventstore.AsOf{Version: 2})
	require.NoError(t, err)
	assert.Equal(t, &platform.StreamAsOf{Version: 2}, st.AsOf)
	assert.Equal(t, int64(2), st.Version)
	assert.Equal(t, orchestration.StatusRunning, st.State.(orchestration.ScanRunState).Status)

	// As of the request (recorded_at, stored to the millisecond).
	asOf := evs[0].RecordedAt.Add(time.Millisecond)
	require.True(t, asOf.Before(evs[1].RecordedAt))
	st, err = w.audit.StreamState(ctx, "team-a", "scan-s1", eventstore.AsOf{Time: asOf})
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Version)
	assert.Equal(t, orchestration.StatusRequested, st.State.(orchestration.ScanRunState).Status)
	require.NotNil(t, st.AsOf.Time)
	assert.True(t, asOf.Equal(*st.AsOf.Time))

	_, err = w.audit.StreamState(ctx, "team-a", "scan-s1", eventstore.AsOf{Time: evs[0].RecordedAt.Add(-time.Hour)})
	assert.ErrorIs(t, err, queries.ErrNotFound, "no event yet at that time")
	_, err = w.audit.StreamState(ctx, "team-a", "scan-s1", eventstore.AsOf{Time: asOf, Version: 1})
	requireField(t, err, "version")
}

func TestAuditRedactsKeyMaterial(t *testing.T) {
	t.Parallel()
	w := newAuditWorld(t)
	ctx := t.Context()
	issued, err := w.keys.IssueKey(ctx, meta("team-a", "cli", "cli keys create", ""), platformcmd.IssueKey{Name: "ci", Role: "analyst"})
	require.NoError(t, err)
	w.project(t)
	stored, err := w.store.ReadStream(ctx, issued.StreamID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, stored, 1)

	evs, err := w.audit.StreamEvents(ctx, "team-a", issued.StreamID)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, []string{"data.salt", "data.hash"}, evs[0].Redacted)
	var data map[string]any
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	assert.Equal(t, platform.RedactedValue, data["salt"])
	assert.Equal(t, platform.RedactedValue, data["hash"])
	assert.Equal(t, "ci", data["name"])
	assert.Equal(t, stored[0].Hash, evs[0].Hash, "the envelope is otherwise as stored")
	assert.NotContains(t, string(evs[0].Data), stored[0].Data)

	var want access.APIKeyIssued
	require.NoError(t, json.Unmarshal(stored[0].Data, &want))
	assert.NotContains(t, string(evs[0].Data), want.Salt)
	assert.NotContains(t, string(evs[0].Data), want.Hash)

	st, err := w.audit.StreamState(ctx, "team-a", issued.StreamID, eventstore.AsOf{})
	require.NoError(t, err)
	assert.Equal(t, evs, st.Events)
	raw, err := json.Marshal(st.State)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), want.Hash, "the state holds no key material either")
	assert.NotContains(t, string(raw), want.Salt)
}

func TestAuditVerify(t *testing.T) {
	t.Parallel()
	w := newAuditWorld(t)
	ctx := t.Context()
	for _, id := range []string{"s1", "s2"} {
		_, err := w.scans.RequestScan(ctx, meta("team-a", "alice", "r", ""), orchcmd.RequestScan{ScanID: id, AccountID: "acc", Provider: "aws", Tool: "prowler"})
		require.NoError(t, err)
	}
	w.project(t)
	res, err := w.audit.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, res.OK)
	assert.Equal(t, int64(2), res.EventsChecked)
	assert.Equal(t, int64(2), res.StreamsChecked)
	assert.Nil(t, res.Broken)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w.audit.Verify(canceled)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}
