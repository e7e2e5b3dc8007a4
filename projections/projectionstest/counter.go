// Package projectionstest helps test projections and the projection
// runtime: a small test projection (Counter) with its own event types and
// codec, an environment with a real SQLite event store, an embedded NATS
// server, the relay and SQLite read-model stores (Env), and Dump, which
// reads collections whole for comparisons.
package projectionstest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// Test event types. Counter listens to the first three; Noted is for
// positions a projection does not listen to.
type (
	// Incremented adds By to its stream's count. With Poison set it fails
	// while the Counter is broken.
	Incremented struct {
		By     int64 `json:"by"`
		Poison bool  `json:"poison,omitempty"`
	}
	// Renamed labels its stream.
	Renamed struct {
		Label string `json:"label"`
	}
	// Closed deletes its stream's document (its total leaves the team's).
	Closed struct{}
	// Noted is an event Counter does not listen to.
	Noted struct {
		Text string `json:"text"`
	}
)

// Event type names.
const (
	TypeIncremented = "TestIncremented"
	TypeRenamed     = "TestRenamed"
	TypeClosed      = "TestClosed"
	TypeNoted       = "TestNoted"
	// StreamType is the stream type Env.Append uses.
	StreamType = "TestCounter"
)

// EventType names each event (the domain's convention).
func (Incremented) EventType() string { return TypeIncremented }
func (Renamed) EventType() string     { return TypeRenamed }
func (Closed) EventType() string      { return TypeClosed }
func (Noted) EventType() string       { return TypeNoted }

// Codec returns a codec that knows the test events.
func Codec() *eventstore.Codec {
	c := eventstore.NewCodec()
	c.Register(TypeIncremented, Incremented{}, 1, nil)
	c.Register(TypeRenamed, Renamed{}, 1, nil)
	c.Register(TypeClosed, Closed{}, 1, nil)
	c.Register(TypeNoted, Noted{}, 1, nil)
	return c
}

// Collections of Counter.
const (
	// StreamsCollection: one document per stream: team_id, count (events),
	// total (sum of By), label, last_position, last_version.
	StreamsCollection = "test_streams"
	// TeamsCollection: one document per team: total (sum of By over its
	// open streams), events (Incremented applied), streams (opened).
	TeamsCollection = "test_teams"
)

// ErrPoison is what a broken Counter returns for a poison event.
var ErrPoison = errors.New("projectionstest: poison event")

// Counter is a projection that counts events per stream and keeps a total
// per team. It reads and writes through the Tx like a real projection
// (read-modify-write of two documents per event).
type Counter struct {
	name    string
	db      dbregistry.Constant
	broken  atomic.Bool
	applies atomic.Int64
}

// NewCounter returns a Counter named name writing database db. It starts
// broken: poison events fail until Fix.
func NewCounter(name string, db dbregistry.Constant) *Counter {
	c := &Counter{name: name, db: db}
	c.broken.Store(true)
	return c
}

// Fix makes poison events apply; Break makes them fail again.
func (c *Counter) Fix()   { c.broken.Store(false) }
func (c *Counter) Break() { c.broken.Store(true) }

// Applies counts Apply calls (failed ones included).
func (c *Counter) Applies() int64 { return c.applies.Load() }

// Name implements projections.Projection.
func (c *Counter) Name() string { return c.name }

// Database implements projections.Projection.
func (c *Counter) Database() dbregistry.Constant { return c.db }

// Collections implements projections.Projection.
func (c *Counter) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: StreamsCollection, Indexes: []readmodel.Index{
			{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "total", Desc: true}}},
		}},
		{Name: TeamsCollection},
	}
}

// EventTypes implements projections.Projection.
func (c *Counter) EventTypes() []string { return []string{TypeIncremented, TypeRenamed, TypeClosed} }

// Apply implements projections.Projection.
func (c *Counter) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	c.applies.Add(1)
	stream, found, err := tx.Get(ctx, StreamsCollection, ev.StreamID)
	if err != nil {
		return err
	}
	if !found {
		stream = readmodel.Doc{"_id": ev.StreamID, "team_id": ev.Metadata.TeamID, "count": int64(0), "total": int64(0), "label": ""}
	}
	stream["count"] = stream["count"].(int64) + 1
	stream["last_position"] = ev.Position
	stream["last_version"] = ev.Version

	team, teamFound, err := tx.Get(ctx, TeamsCollection, ev.Metadata.TeamID)
	if err != nil {
		return err
	}
	if !teamFound {
		team = readmodel.Doc{"_id": ev.Metadata.TeamID, "total": int64(0), "events": int64(0), "streams": int64(0)}
	}
	if !found {
		team["streams"] = team["streams"].(int64) + 1
	}

	switch data := ev.Data.(type) {
	case Incremented:
		if data.Poison && c.broken.Load() {
			return fmt.Errorf("%w at position %d", ErrPoison, ev.Position)
		}
		stream["total"] = stream["total"].(int64) + data.By
		team["total"] = team["total"].(int64) + data.By
		team["events"] = team["events"].(int64) + 1
		tx.Put(StreamsCollection, stream)
	case Renamed:
		stream["label"] = data.Label
		tx.Put(StreamsCollection, stream)
	case Closed:
		team["total"] = team["total"].(int64) - stream["total"].(int64)
		tx.Delete(StreamsCollection, ev.StreamID)
	default:
		return fmt.Errorf("projectionstest: unexpected event %T", ev.Data)
	}
	tx.Put(TeamsCollection, team)
	return nil
}
