package bus_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/faulttest"
)

// A full disk makes JetStream refuse every write of the stream, for good,
// even once space is freed (its file store keeps the write error). The
// embedded server restarts itself once there is room again, on the same
// port and storage: the stream keeps what it had, and takes writes again
// through the same client connection.
func TestEmbeddedServerRecoversFromAFullDisk(t *testing.T) {
	faulttest.WithTmpfs(t, 16<<20, func(t *testing.T, mnt string) {
		old := bus.RestartBackoff
		bus.RestartBackoff.Min, bus.RestartBackoff.Max = 100*time.Millisecond, time.Second
		t.Cleanup(func() { bus.RestartBackoff = old })

		e := start(t, filepath.Join(mnt, "nats"), -1)
		js := connect(t, e.ClientURL())
		ctx := context.Background()
		_, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Name: "T_EVENTS"})
		require.NoError(t, err)

		ballast := filepath.Join(mnt, "ballast")
		f, err := os.Create(ballast)
		require.NoError(t, err)
		_, _ = f.Write(make([]byte, 15<<20)) // fills what the server leaves free
		require.NoError(t, f.Close())

		payload := make([]byte, 8<<10)
		published := 0
		for ; published < 2000; published++ {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = js.Publish(pctx, "cspm.events.x.y", payload)
			cancel()
			if err != nil {
				break
			}
		}
		require.Error(t, err, "the disk filled up")
		require.Less(t, published, 2000)
		assert.Zero(t, e.Restarts(), "no room yet: no restart")

		require.NoError(t, os.Remove(ballast))
		require.Eventually(t, func() bool { return e.Restarts() > 0 }, 20*time.Second, 20*time.Millisecond,
			"the server restarts once there is room")
		var ack error
		require.Eventually(t, func() bool {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, ack = js.Publish(pctx, "cspm.events.x.y", payload)
			return ack == nil
		}, 20*time.Second, 50*time.Millisecond, "writes are taken again: %v", ack)
		s, err := js.Stream(ctx, "T_EVENTS")
		require.NoError(t, err)
		assert.GreaterOrEqual(t, s.CachedInfo().State.Msgs, uint64(published+1), "nothing acknowledged was lost")
	})
}
