package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

func TestState(t *testing.T) {
	t.Parallel()
	d := ct.New(t)
	scanID := d.RunningScan(t, ct.TeamA)
	events := d.Stream(t, "scan-"+scanID)

	t.Run("as of an earlier version", func(t *testing.T) {
		state, err := commands.State(d.Codec, events[:1])
		require.NoError(t, err)
		s, ok := state.(orchestration.ScanRunState)
		require.True(t, ok, "state is %T", state)
		assert.Equal(t, orchestration.StatusRequested, s.Status)
	})

	t.Run("errors", func(t *testing.T) {
		unknown := events[0]
		unknown.StreamType = "Invoice"
		other := events[1]
		other.StreamID = "scan-other"
		for name, evs := range map[string][]eventstore.RecordedEvent{
			"no events":     nil,
			"mixed streams": {events[0], other},
		} {
			_, err := commands.State(d.Codec, evs)
			assert.Error(t, err, name)
		}
		state, err := commands.State(d.Codec, []eventstore.RecordedEvent{unknown})
		require.NoError(t, err, "a stream type without a state view")
		assert.Nil(t, state, "its events say it all")
	})
}
