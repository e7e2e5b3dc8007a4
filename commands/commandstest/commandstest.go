// Package commandstest holds what the tests of the command handlers share:
// the handlers' dependencies on a real SQLite store of their own, a
// settable clock, two teams, the scans most tests start from, and the
// assertions about what a command appended or refused.
package commandstest

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

// T0 is the clock's time when a test starts.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a settable clock for the handlers.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Deps are the handlers' dependencies on a real SQLite store of their own.
type Deps struct {
	Store *sqlite.Store
	Codec *eventstore.Codec
	Clock *Clock
	Kit   *commands.Kit
	// Scans are the scan commands on Kit, to set up the scans other
	// commands act in.
	Scans *orchestration.Handlers
}

// New opens a store in the test's temporary directory (closed when the
// test ends) and returns the kit over it, with the clock at T0.
func New(t *testing.T) *Deps {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	d := &Deps{Store: store, Codec: eventstore.NewDomainCodec(), Clock: &Clock{now: T0}}
	d.Kit = commands.NewKit(store, d.Codec, d.Clock.Now)
	d.Scans = orchestration.New(d.Kit)
	return d
}

// KitOver returns a kit over store (a wrapper of d.Store) sharing d's
// codec and clock.
func (d *Deps) KitOver(store commands.EventStore) *commands.Kit {
	return commands.NewKit(store, d.Codec, d.Clock.Now)
}

// Head is the store's head position.
func (d *Deps) Head(t *testing.T) int64 {
	t.Helper()
	p, err := d.Store.HeadPosition(context.Background())
	require.NoError(t, err)
	return p
}

// Stream returns the stored events of a stream.
func (d *Deps) Stream(t *testing.T, streamID string) []eventstore.RecordedEvent {
	t.Helper()
	events, err := d.Store.ReadStream(context.Background(), streamID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	return events
}

// Decoded returns the domain events of a stream.
func (d *Deps) Decoded(t *testing.T, streamID string) []any {
	t.Helper()
	var out []any
	for _, e := range d.Stream(t, streamID) {
		v, err := d.Codec.Decode(e)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// The teams of the tests.
var (
	TeamA = commands.Meta{TeamID: "team-a", Actor: "alice", CorrelationID: "corr-1", Route: "test"}
	TeamB = commands.Meta{TeamID: "team-b", Actor: "bob", CorrelationID: "corr-2"}
)

// WithKey is m with an idempotency key.
func WithKey(m commands.Meta, key string) commands.Meta {
	m.IdempotencyKey = key
	return m
}

// RequestScan requests a scan for meta's team and returns its id.
func (d *Deps) RequestScan(t *testing.T, meta commands.Meta) string {
	t.Helper()
	res, err := d.Scans.RequestScan(t.Context(), meta, orchestration.RequestScan{AccountID: "acc-1", Provider: "aws", Tool: "prowler"})
	require.NoError(t, err)
	return res.StreamID[len("scan-"):]
}

// RunningScan requests and starts a scan.
func (d *Deps) RunningScan(t *testing.T, meta commands.Meta) string {
	t.Helper()
	id := d.RequestScan(t, meta)
	_, err := d.Scans.StartScan(t.Context(), meta, orchestration.StartScan{ScanID: id})
	require.NoError(t, err)
	return id
}

// AssertMetadata checks what every appended event carries.
func AssertMetadata(t *testing.T, meta commands.Meta, events ...eventstore.RecordedEvent) {
	t.Helper()
	for _, e := range events {
		assert.Equal(t, meta.TeamID, e.Metadata.TeamID, "team_id of %s", e.EventID)
		assert.Equal(t, meta.Actor, e.Metadata.Actor, "actor of %s", e.EventID)
		assert.Equal(t, meta.CorrelationID, e.Metadata.CorrelationID, "correlation_id of %s", e.EventID)
		assert.Equal(t, meta.Route, e.Metadata.Route, "route of %s", e.EventID)
		assert.Equal(t, meta.IdempotencyKey, e.Metadata.IdempotencyKey, "idempotency_key of %s", e.EventID)
		AssertUUIDv7(t, e.Metadata.CommandID)
	}
}

// AssertUUIDv7 checks that s is a UUIDv7.
func AssertUUIDv7(t *testing.T, s string) {
	t.Helper()
	id, err := uuid.Parse(s)
	if assert.NoError(t, err, "%q is not a UUID", s) {
		assert.Equal(t, uuid.Version(7), id.Version(), "%q is not a UUIDv7", s)
	}
}

// RequireRule requires a *domain.RuleError of code.
func RequireRule(t *testing.T, err error, code string) {
	t.Helper()
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, code, re.Code)
}

// RequireFields requires a *domain.ValidationError naming fields, in order.
func RequireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	assert.Equal(t, fields, got)
}

// RequireInUse requires a *commands.IDInUseError naming field and id, and
// nothing of the other stream (not the store's conflict, not its version).
func RequireInUse(t *testing.T, err error, field, id string) {
	t.Helper()
	var inUse *commands.IDInUseError
	require.ErrorAs(t, err, &inUse, "%v", err)
	assert.Equal(t, commands.IDInUseError{Field: field, ID: id}, *inUse)
	assert.NotErrorIs(t, err, eventstore.ErrConflict, "nothing of the other stream's version travels")
	var ce *eventstore.ConflictError
	assert.False(t, errors.As(err, &ce))
}

// HookedStore wraps the real store to inject races and failures.
type HookedStore struct {
	commands.EventStore
	AfterRead    func(streamID string)
	BeforeAppend func(req eventstore.AppendRequest) error
	AfterAppend  func(err error)
}

// ReadStream reads, then calls AfterRead.
func (s *HookedStore) ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	events, err := s.EventStore.ReadStream(ctx, streamID, opts)
	if s.AfterRead != nil {
		s.AfterRead(streamID)
	}
	return events, err
}

// Append calls BeforeAppend (its error fails the append), appends, then
// calls AfterAppend with the append's error.
func (s *HookedStore) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if s.BeforeAppend != nil {
		if err := s.BeforeAppend(req); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	res, err := s.EventStore.Append(ctx, req)
	if s.AfterAppend != nil {
		s.AfterAppend(err)
	}
	return res, err
}
