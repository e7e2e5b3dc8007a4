package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/eventstore"
)

// typesLog is an event log of the given types at positions 1, 2, …
type typesLog []string

func (l typesLog) ReadAll(_ context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for p := after + 1; p <= int64(len(l)) && len(out) < limit; p++ {
		out = append(out, eventstore.RecordedEvent{Position: p, Type: l[p-1]})
	}
	return out, nil
}
func (l typesLog) HeadPosition(context.Context) (int64, error) { return int64(len(l)), nil }
func (l typesLog) WaitForAppend(context.Context, int64) error  { return nil }

// An idle projection (the consumer says nothing is pending) has processed
// the stream only up to the first event of its types after what it
// processed: the consumer's count may not have seen that one yet.
func TestIdleThroughStopsAtTheFirstEventOfItsTypes(t *testing.T) {
	t.Parallel()
	log := typesLog{"Other", "Mine", "Other", "Other", "Mine", "Other"}
	w := &worker{r: &Runtime{deps: RuntimeDeps{Events: log}}, types: map[string]bool{"Mine": true}}
	ctx := context.Background()
	for _, c := range []struct {
		processed, last, want int64
	}{
		{0, 6, 1}, // Mine at 2 is not processed
		{1, 6, 1},
		{2, 6, 4}, // Mine at 2 processed; Mine at 5 is not
		{5, 6, 6},
		{2, 3, 3}, // only up to the stream's last sequence
		{6, 6, 6},
	} {
		assert.Equal(t, c.want, w.idleThrough(ctx, c.processed, c.last), "processed %d, last %d", c.processed, c.last)
	}
}

// countingLog counts the events read from it.
type countingLog struct {
	typesLog
	read int
}

func (l *countingLog) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := l.typesLog.ReadAll(ctx, after, limit)
	l.read += len(evs)
	return evs, err
}

// Idle projections' probes share one read of the new events: the
// runtime's window of recent types answers the others (each used to read
// and decode the same events, 15% of the batch route's CPU with every
// role in one process).
func TestIdleProbesShareOneReadOfTheNewEvents(t *testing.T) {
	t.Parallel()
	types := make(typesLog, 2000)
	for i := range types {
		types[i] = "Other"
	}
	types[1499] = "Mine" // position 1500
	log := &countingLog{typesLog: types}
	r := &Runtime{deps: RuntimeDeps{Events: log}}
	mine := &worker{r: r, types: map[string]bool{"Mine": true}}
	ctx := context.Background()

	assert.Equal(t, int64(1499), mine.idleThrough(ctx, 0, 2000))
	firstRead := log.read
	assert.GreaterOrEqual(t, firstRead, 1500)
	for i := range 30 { // thirty other idle projections, after the same events
		w := &worker{r: r, types: map[string]bool{fmt.Sprintf("T%d", i): true}}
		assert.Equal(t, int64(2000), w.idleThrough(ctx, 0, 2000))
	}
	assert.Equal(t, 2000, log.read, "the events after the first read were read once, for all of them")
	assert.Equal(t, int64(1499), mine.idleThrough(ctx, 0, 2000), "the window gives the same answer")
	assert.Equal(t, 2000, log.read)
}

func TestTypeWindowKeepsARecentDenseWindow(t *testing.T) {
	t.Parallel()
	var tw TypeWindow
	evs := func(from, to int64) []eventstore.RecordedEvent {
		var out []eventstore.RecordedEvent
		for p := from; p <= to; p++ {
			out = append(out, eventstore.RecordedEvent{Position: p, Type: fmt.Sprintf("t%d", p)})
		}
		return out
	}
	tw.remember(evs(10, 20))
	typ, ok := tw.typeAt(15)
	assert.True(t, ok)
	assert.Equal(t, "t15", typ)
	_, ok = tw.typeAt(9)
	assert.False(t, ok)
	_, ok = tw.typeAt(21)
	assert.False(t, ok)

	tw.remember(evs(21, 30)) // extends
	typ, ok = tw.typeAt(30)
	assert.True(t, ok)
	assert.Equal(t, "t30", typ)
	tw.remember(evs(25, 26)) // overlaps: keeps what is before
	_, ok = tw.typeAt(12)
	assert.True(t, ok)
	tw.remember(evs(100, 101)) // a jump: starts over
	_, ok = tw.typeAt(12)
	assert.False(t, ok)
	typ, _ = tw.typeAt(101)
	assert.Equal(t, "t101", typ)

	tw.remember(evs(102, 102+typeWindowMax)) // bounded
	tw.mu.Lock()
	assert.LessOrEqual(t, len(tw.types), typeWindowMax)
	tw.mu.Unlock()
	typ, ok = tw.typeAt(102 + typeWindowMax)
	assert.True(t, ok)
	assert.Equal(t, fmt.Sprintf("t%d", 102+typeWindowMax), typ)
}
