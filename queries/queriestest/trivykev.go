package queriestest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// KEVFeed writes a CISA KEV catalogue (JSON) listing cves, as the feed
// does, for worlds that need KEV entries.
func KEVFeed(version string, cves []string) []byte {
	type entry struct {
		CVEID             string   `json:"cveID"`
		VendorProject     string   `json:"vendorProject"`
		Product           string   `json:"product"`
		VulnerabilityName string   `json:"vulnerabilityName"`
		DateAdded         string   `json:"dateAdded"`
		ShortDescription  string   `json:"shortDescription"`
		RequiredAction    string   `json:"requiredAction"`
		DueDate           string   `json:"dueDate"`
		Ransomware        string   `json:"knownRansomwareCampaignUse"`
		Notes             string   `json:"notes"`
		CWEs              []string `json:"cwes"`
	}
	feed := struct {
		Title           string  `json:"title"`
		CatalogVersion  string  `json:"catalogVersion"`
		DateReleased    string  `json:"dateReleased"`
		Count           int     `json:"count"`
		Vulnerabilities []entry `json:"vulnerabilities"`
	}{Title: "bench", CatalogVersion: version, DateReleased: "2026-02-01T12:00:00.000Z", Count: len(cves)}
	for i, c := range cves {
		r := "Unknown"
		if i%5 == 0 {
			r = "Known"
		}
		feed.Vulnerabilities = append(feed.Vulnerabilities, entry{CVEID: c, VendorProject: "Vendor", Product: "Product",
			VulnerabilityName: "A flaw", DateAdded: "2026-01-20", ShortDescription: "d", RequiredAction: "Apply updates.",
			DueDate: "2026-02-10", Ransomware: r, Notes: "", CWEs: []string{}})
	}
	b, _ := json.Marshal(feed)
	return b
}

// TrivyKEVWorld is TrivyWorld with KEV feeds imported (in order, through
// the real KEV import) after the reports, and the occurrences projection
// rebuilt over both: the KEV join's flags are set.
func TrivyKEVWorld(tb testing.TB, dir string, next func(i int) *TrivyImport, feeds ...[]byte) *Env {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(tb, err)
	defer store.Close()
	codec := eventstore.NewDomainCodec()
	kit := commands.NewKit(store, codec, func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) })
	h := vulncmd.New(kit, TrivyParsers{}, store)
	meta := commands.Meta{TeamID: "team-admin", Actor: "alice", CorrelationID: "c", Route: "test"}
	for i := 0; ; i++ {
		imp := next(i)
		if imp == nil {
			break
		}
		m := meta
		m.TeamID = imp.Team
		_, err := h.ImportScan(ctx, m, vulncmd.ImportScan{Format: "trivy-json", FileName: "report.json", Body: bytes.NewReader(imp.Report)})
		require.NoError(tb, err)
	}
	tih := ticmd.New(kit).WithFeeds(parsers.Registry{})
	for i, f := range feeds {
		_, err := tih.ImportKEV(ctx, meta, ticmd.ImportKEV{Format: "kev-json", FileName: fmt.Sprintf("kev-%d.json", i), Body: bytes.NewReader(f)})
		require.NoError(tb, err)
	}
	env := OpenEnv(tb, filepath.Join(dir, "readmodels"))
	stores := map[dbregistry.Constant]readmodel.Store{}
	for c, s := range env.Stores {
		stores[c] = s
	}
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
