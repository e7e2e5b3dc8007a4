package relay_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore/relay"
	"github.com/cspm-es/cspm-es/platform/bus"
)

// A relay that is behind while the stream's messages have all expired
// (bounded retention, decision 103) resumes from the stream's last
// sequence, which expiry does not change: its start-up check skips the
// expired last message and it publishes the next positions with the
// expected last sequence (issue 17).
func TestRelayResumesAfterEveryMessageExpired(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := openStore(t)
	srv := startServer(t, t.TempDir(), -1)
	_, js := connect(t, srv.ClientURL())
	cfg := fastConfig()
	cfg.Stream.MaxAge = 500 * time.Millisecond
	appendEvents(t, store, 40)
	n, err := relay.New(store, js, cfg).CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 40, n)

	// The relay is gone while every message ages out.
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, cfg.Stream.Name)
		return err == nil && s.CachedInfo().State.Msgs == 0
	}, 20*time.Second, 20*time.Millisecond)
	appendEvents(t, store, 25)

	r := relay.New(store, js, cfg)
	got, err := r.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(40), got, "the stream's last sequence outlives its messages")
	n, err = r.CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 25, n)
	s, err := js.Stream(ctx, cfg.Stream.Name)
	require.NoError(t, err)
	st := s.CachedInfo().State
	assert.Equal(t, uint64(65), st.LastSeq)
	assert.GreaterOrEqual(t, bus.FirstSeq(st), int64(41), "expired messages are not published again")
}
