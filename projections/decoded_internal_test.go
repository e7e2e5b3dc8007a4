package projections

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/eventstore"
)

// A decoded event is found by its position and event id only: another
// event id at the position (a stream rebuilt from another store), a
// position the window has moved past, or no id at all is a miss.
func TestDecodedWindowServesOnlyTheSameEvent(t *testing.T) {
	t.Parallel()
	var dw decodedWindow
	_, ok := dw.get(7, "e7")
	assert.False(t, ok, "an empty window")

	ev := Event{RecordedEvent: eventstore.RecordedEvent{Position: 7, EventID: "e7", Type: "T"}, Data: struct{ N int }{1}}
	dw.put(ev)
	got, ok := dw.get(7, "e7")
	assert.True(t, ok)
	assert.Equal(t, ev, got)

	for _, miss := range []struct {
		pos int64
		id  string
	}{{7, "other"}, {7, ""}, {8, "e7"}, {7 + decodedWindowSize, "e7"}} {
		_, ok := dw.get(miss.pos, miss.id)
		assert.False(t, ok, "%d %q", miss.pos, miss.id)
	}

	dw.put(Event{RecordedEvent: eventstore.RecordedEvent{Position: 7 + decodedWindowSize, EventID: "later"}})
	_, ok = dw.get(7, "e7")
	assert.False(t, ok, "overwritten by a later position in the same slot")
}
