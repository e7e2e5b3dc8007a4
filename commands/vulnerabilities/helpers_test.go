package vulnerabilities_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	registriesproj "github.com/cspm-es/cspm-es/projections/containerregistries"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
	"github.com/cspm-es/cspm-es/queries/queriestest"
)

// scanParsers is cmd/cspm's adapter of the registry (a copy: main is not
// importable).
type scanParsers struct{ parsers.Registry }

func (p scanParsers) ParseScan(ctx context.Context, r io.Reader, format string, emit func(vulncmd.Item) error) (vulncmd.ScanInfo, error) {
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

const teamA, teamB = "team-a", "team-b"

func metaOf(team string) commands.Meta {
	return commands.Meta{TeamID: team, Actor: "alice", CorrelationID: "c-1", Route: "test"}
}

type fixture struct {
	*commandstest.Deps
	h *vulncmd.Handlers
}

func newFixture(t *testing.T) *fixture {
	d := commandstest.New(t)
	return &fixture{Deps: d, h: vulncmd.New(d.Kit, scanParsers{}, d.Store)}
}

func sample(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "trivy", "testdata", name))
	require.NoError(t, err)
	return b
}

func (f *fixture) importBytes(t *testing.T, team string, b []byte) (vulncmd.ImportResult, error) {
	return f.h.ImportScan(t.Context(), metaOf(team), vulncmd.ImportScan{Format: "trivy-json", FileName: "report.json", Body: bytes.NewReader(b)})
}

// events are every stored event, decoded, as the projections get them.
func (f *fixture) events(t *testing.T) []projections.Event {
	var out []projections.Event
	var after int64
	for {
		evs, err := f.Store.ReadAll(t.Context(), after, 1000)
		require.NoError(t, err)
		if len(evs) == 0 {
			return out
		}
		for _, r := range evs {
			v, err := f.Codec.Decode(r)
			require.NoError(t, err)
			out = append(out, projections.Event{RecordedEvent: r, Data: v})
			after = r.Position
		}
	}
}

// project runs the two projections over events into a map-backed Tx.
func project(t *testing.T, events []projections.Event) *queriestest.MemTx {
	tx := queriestest.NewMemTx()
	for _, p := range []projections.Projection{vulnproj.New(), registriesproj.New()} {
		for _, ev := range events {
			for _, typ := range p.EventTypes() {
				if typ == ev.Type {
					require.NoError(t, p.Apply(t.Context(), tx, ev))
				}
			}
		}
	}
	return tx
}

func docs(tx *queriestest.MemTx, coll string, keep func(readmodel.Doc) bool) []readmodel.Doc {
	var out []readmodel.Doc
	for _, d := range tx.Colls[coll] {
		if keep == nil || keep(d) {
			out = append(out, d)
		}
	}
	return out
}
