package queriestest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/projections"
)

// TrivyKEVChunks imports the KEV feeds, then each report next gives (until
// nil), through the real commands into an event store in dir, and yields
// the events each import appended (read back and decoded, as the runtime
// would hand them to a projection): one chunk per import, in position
// order. With Env.SeedChunksWith, a world of a million occurrences is
// built by the projections' own Apply, in batches, without the bus and
// the runtime's small rebuild batches (queriestest.TrivyKEVWorld), and
// without holding every event in memory.
func TrivyKEVChunks(tb testing.TB, dir string, next func(i int) *TrivyImport, feeds ...[]byte) iter.Seq[[]projections.Event] {
	return func(yield func([]projections.Event) bool) {
		ctx := context.Background()
		store, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal"})
		require.NoError(tb, err)
		defer store.Close()
		codec := eventstore.NewDomainCodec()
		kit := commands.NewKit(store, codec, func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) })
		h := vulncmd.New(kit, TrivyParsers{}, store)
		tih := ticmd.New(kit).WithFeeds(parsers.Registry{})
		meta := commands.Meta{TeamID: "team-admin", Actor: "alice", CorrelationID: "c", Route: "test"}
		var after int64
		read := func() []projections.Event {
			var out []projections.Event
			for {
				evs, err := store.ReadAll(ctx, after, 1000)
				require.NoError(tb, err)
				if len(evs) == 0 {
					return out
				}
				for _, r := range evs {
					v, err := codec.Decode(r)
					require.NoError(tb, err)
					out = append(out, projections.Event{RecordedEvent: r, Data: v})
					after = r.Position
				}
			}
		}
		for i, f := range feeds {
			_, err := tih.ImportKEV(ctx, meta, ticmd.ImportKEV{Format: "kev-json", FileName: fmt.Sprintf("kev-%d.json", i), Body: bytes.NewReader(f)})
			require.NoError(tb, err)
			if !yield(read()) {
				return
			}
		}
		for i := 0; ; i++ {
			imp := next(i)
			if imp == nil {
				return
			}
			m := meta
			m.TeamID = imp.Team
			_, err := h.ImportScan(ctx, m, vulncmd.ImportScan{Format: "trivy-json", FileName: "report.json", Body: bytes.NewReader(imp.Report)})
			require.NoError(tb, err)
			if !yield(read()) {
				return
			}
		}
	}
}
