package projections

import (
	"context"
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
