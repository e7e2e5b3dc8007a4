package projections

import (
	"context"
	"sync"

	"github.com/cspm-es/cspm-es/eventstore"
)

// TypeWindow remembers the event types of a window of recent positions,
// shared by the runtime's projections (and by the read side of an
// api-only process, cmd/cspm). The zero value is ready. An idle projection's probe asks
// the store which types follow what it has processed (decision 105);
// with dozens of projections idle at once, each read and decoded the
// same new events: one read now serves them all (the others find the
// types here).
type TypeWindow struct {
	mu    sync.Mutex
	first int64    // position of types[0]
	types []string // types of positions first, first+1, ...
}

// RecentTypes is the runtime's window of recent types, for a read side
// in the same process to share (its checks then read no event twice).
func (r *Runtime) RecentTypes() *TypeWindow { return &r.recent }

// typeWindowMax bounds the positions remembered.
const typeWindowMax = 16384

// typeAt returns the type of the event at pos, if remembered.
func (tw *TypeWindow) typeAt(pos int64) (string, bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	i := pos - tw.first
	if tw.first == 0 || i < 0 || i >= int64(len(tw.types)) {
		return "", false
	}
	return tw.types[i], true
}

// remember notes the types of events read in position order (dense).
func (tw *TypeWindow) remember(evs []eventstore.RecordedEvent) {
	if len(evs) == 0 {
		return
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	next := tw.first + int64(len(tw.types))
	start := evs[0].Position
	switch {
	case tw.first != 0 && start >= tw.first && start <= next:
		// Overlaps or extends the window: keep the part before start.
		tw.types = tw.types[:start-tw.first]
	default:
		tw.first, tw.types = start, tw.types[:0]
	}
	for i, e := range evs {
		if e.Position != start+int64(i) {
			break // not dense: keep what is
		}
		tw.types = append(tw.types, e.Type)
	}
	if n := len(tw.types); n > typeWindowMax {
		drop := n - typeWindowMax/2
		tw.types = append(tw.types[:0], tw.types[drop:]...)
		tw.first += int64(drop)
	}
}

// TypesAfter calls each with the type of every position in (after, to],
// in order, until it returns false; from the window where it can, from
// the store (remembered) where not. It returns the last position
// visited and how many it read from the store.
func (tw *TypeWindow) TypesAfter(ctx context.Context, store interface {
	ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error)
}, after, to int64, maxRead int, each func(pos int64, typ string) bool) (at int64, read int) {
	at = after
	for at < to {
		if t, ok := tw.typeAt(at + 1); ok {
			if !each(at+1, t) {
				return at, read
			}
			at++
			continue
		}
		if read >= maxRead {
			return at, read
		}
		evs, err := store.ReadAll(ctx, at, min(int(to-at), 500))
		if err != nil || len(evs) == 0 {
			return at, read
		}
		tw.remember(evs)
		read += len(evs)
		for _, e := range evs {
			if e.Position > to {
				return at, read
			}
			if !each(e.Position, e.Type) {
				return at, read
			}
			at = e.Position
		}
	}
	return at, read
}
