package queriestest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// TrivyParsers is cmd/cspm's adapter of the parser registry to the Trivy
// import's port (a copy for tests: main is not importable).
type TrivyParsers struct{ parsers.Registry }

// ParseScan implements commands/vulnerabilities.Reports.
func (p TrivyParsers) ParseScan(ctx context.Context, r io.Reader, format string, emit func(vulncmd.Item) error) (vulncmd.ScanInfo, error) {
	sum, err := p.Registry.ParseScan(ctx, r, func(it trivy.Item) error {
		switch {
		case it.Vulnerability != nil:
			rec, occ := it.Vulnerability.Record, it.Vulnerability.Occurrence
			return emit(vulncmd.Item{Vulnerability: &rec, Occurrence: &occ})
		case it.Misconfiguration != nil:
			return emit(vulncmd.Item{Misconfiguration: it.Misconfiguration})
		case it.Secret != nil:
			return emit(vulncmd.Item{Secret: it.Secret})
		}
		return nil
	})
	return vulncmd.ScanInfo{Format: string(sum.Format), Tool: "trivy", ToolVersion: sum.TrivyVersion, Artifact: sum.Artifact, CreatedAt: sum.CreatedAt}, err
}

// TrivyImport is a report a team imports.
type TrivyImport struct {
	Team   string
	Report []byte
}

// TrivyEvents imports the reports, in order, through the real command on a
// SQLite event store of its own, and returns every stored event decoded,
// as the projections get them.
func TrivyEvents(tb testing.TB, imports ...TrivyImport) []projections.Event {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(tb, err)
	defer store.Close()
	codec := eventstore.NewDomainCodec()
	kit := commands.NewKit(store, codec, func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) })
	h := vulncmd.New(kit, TrivyParsers{}, store)
	for _, imp := range imports {
		_, err := h.ImportScan(ctx, commands.Meta{TeamID: imp.Team, Actor: "alice", CorrelationID: "c", Route: "test"},
			vulncmd.ImportScan{Format: "trivy-json", FileName: "report.json", Body: bytes.NewReader(imp.Report)})
		require.NoError(tb, err)
	}
	var out []projections.Event
	var after int64
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

// TrivyWorld imports reports (made by next, one at a time, until it
// returns nil) through the real command into a SQLite event store in dir,
// then rebuilds the vulnerabilities and container-registries projections
// from it through the projections runtime (committing batch by batch), so
// a world of any size is seeded without holding it in memory. It returns
// the read models, open.
func TrivyWorld(tb testing.TB, dir string, next func(i int) *TrivyImport) *Env {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(tb, err)
	defer store.Close()
	codec := eventstore.NewDomainCodec()
	kit := commands.NewKit(store, codec, func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) })
	h := vulncmd.New(kit, TrivyParsers{}, store)
	for i := 0; ; i++ {
		imp := next(i)
		if imp == nil {
			break
		}
		_, err := h.ImportScan(ctx, commands.Meta{TeamID: imp.Team, Actor: "alice", CorrelationID: "c", Route: "test"},
			vulncmd.ImportScan{Format: "trivy-json", FileName: "report.json", Body: bytes.NewReader(imp.Report)})
		require.NoError(tb, err)
	}
	env := OpenEnv(tb, filepath.Join(dir, "readmodels"))
	stores := map[dbregistry.Constant]readmodel.Store{}
	for c, s := range env.Stores {
		stores[c] = s
	}
	// Small rebuild batches: a chunk event holds ~600 occurrences, and a
	// batch is committed whole.
	rt := projections.NewRuntime(projections.RuntimeConfig{RebuildBatch: 32},
		projections.RuntimeDeps{Events: store, Codec: codec, Stores: stores, Logger: slog.New(slog.DiscardHandler)})
	for _, p := range AllProjections() {
		if p.Database() == dbregistry.VULNERABILITIES || p.Database() == dbregistry.CONTAINER_REGISTRY {
			rt.Register(p)
		}
	}
	require.NoError(tb, rt.RebuildAll(ctx, nil))
	return env
}
