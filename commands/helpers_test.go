package commands_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for the handlers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// deps are the handlers under test on a real SQLite store of their own.
type deps struct {
	store *sqlite.Store
	codec *eventstore.Codec
	clock *clock
	h     *commands.Handlers
}

func newDeps(t *testing.T) *deps {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	d := &deps{store: store, codec: eventstore.NewDomainCodec(), clock: &clock{now: t0}}
	d.h = commands.New(store, d.codec, d.clock.Now)
	return d
}

// with returns handlers over store (a wrapper of d.store) sharing d's codec and clock.
func (d *deps) with(store commands.EventStore) *commands.Handlers {
	return commands.New(store, d.codec, d.clock.Now)
}

func (d *deps) head(t *testing.T) int64 {
	t.Helper()
	p, err := d.store.HeadPosition(context.Background())
	require.NoError(t, err)
	return p
}

func (d *deps) stream(t *testing.T, streamID string) []eventstore.RecordedEvent {
	t.Helper()
	events, err := d.store.ReadStream(context.Background(), streamID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	return events
}

// decoded returns the domain events of a stream.
func (d *deps) decoded(t *testing.T, streamID string) []any {
	t.Helper()
	var out []any
	for _, e := range d.stream(t, streamID) {
		v, err := d.codec.Decode(e)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

var (
	teamA = commands.Meta{TeamID: "team-a", Actor: "alice", CorrelationID: "corr-1", Route: "test"}
	teamB = commands.Meta{TeamID: "team-b", Actor: "bob", CorrelationID: "corr-2"}
)

func withKey(m commands.Meta, key string) commands.Meta {
	m.IdempotencyKey = key
	return m
}

// requestScan requests a scan for teamA and returns its id.
func (d *deps) requestScan(t *testing.T, meta commands.Meta) string {
	t.Helper()
	res, err := d.h.RequestScan(t.Context(), meta, commands.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	return res.StreamID[len("scan-"):]
}

// runningScan requests and starts a scan.
func (d *deps) runningScan(t *testing.T, meta commands.Meta) string {
	t.Helper()
	id := d.requestScan(t, meta)
	_, err := d.h.StartScan(t.Context(), meta, commands.StartScan{ScanID: id})
	require.NoError(t, err)
	return id
}

// assertMetadata checks what every appended event carries.
func assertMetadata(t *testing.T, meta commands.Meta, events ...eventstore.RecordedEvent) {
	t.Helper()
	for _, e := range events {
		assert.Equal(t, meta.TeamID, e.Metadata.TeamID, "team_id of %s", e.EventID)
		assert.Equal(t, meta.Actor, e.Metadata.Actor, "actor of %s", e.EventID)
		assert.Equal(t, meta.CorrelationID, e.Metadata.CorrelationID, "correlation_id of %s", e.EventID)
		assert.Equal(t, meta.Route, e.Metadata.Route, "route of %s", e.EventID)
		assert.Equal(t, meta.IdempotencyKey, e.Metadata.IdempotencyKey, "idempotency_key of %s", e.EventID)
		assertUUIDv7(t, e.Metadata.CommandID)
	}
}

func assertUUIDv7(t *testing.T, s string) {
	t.Helper()
	id, err := uuid.Parse(s)
	if assert.NoError(t, err, "%q is not a UUID", s) {
		assert.Equal(t, uuid.Version(7), id.Version(), "%q is not a UUIDv7", s)
	}
}

func requireRule(t *testing.T, err error, code string) {
	t.Helper()
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, code, re.Code)
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	assert.Equal(t, fields, got)
}

// hookedStore wraps the real store to inject races and failures.
type hookedStore struct {
	commands.EventStore
	afterRead    func(streamID string)
	beforeAppend func(req eventstore.AppendRequest) error
	afterAppend  func(err error)
}

func (s *hookedStore) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	events, err := s.EventStore.ReadStream(ctx, streamID, opts)
	if s.afterRead != nil {
		s.afterRead(streamID)
	}
	return events, err
}

func (s *hookedStore) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if s.beforeAppend != nil {
		if err := s.beforeAppend(req); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	res, err := s.EventStore.Append(ctx, req)
	if s.afterAppend != nil {
		s.afterAppend(err)
	}
	return res, err
}
