package threatintel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	tcmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

// fullFeed writes a KEV JSON feed of n entries in the shape of CISA's
// (the samples' fields and lengths); entries whose index is below
// ransomKnown say Known. Deterministic.
func fullFeed(tb testing.TB, n, ransomKnown int, version string) []byte {
	tb.Helper()
	var vulns []map[string]any
	day := time.Date(2021, 11, 3, 0, 0, 0, 0, time.UTC)
	for i := range n {
		added := day.AddDate(0, 0, i)
		ransom := "Unknown"
		if i < ransomKnown {
			ransom = "Known"
		}
		vulns = append(vulns, map[string]any{
			"cveID": fmt.Sprintf("CVE-%d-%05d", 2015+i%11, 10000+i), "vendorProject": fmt.Sprintf("Vendor%03d", i%150),
			"product": fmt.Sprintf("Product %d", i%400), "vulnerabilityName": fmt.Sprintf("Vendor%03d Product %d Remote Code Execution Vulnerability", i%150, i%400),
			"dateAdded": added.Format("2006-01-02"), "shortDescription": "Product contains an improper input validation vulnerability that allows a remote, unauthenticated attacker to execute arbitrary code via crafted requests to the management interface.",
			"requiredAction": "Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, or discontinue use of the product if mitigations are unavailable.",
			"dueDate":        added.AddDate(0, 0, 21).Format("2006-01-02"), "knownRansomwareCampaignUse": ransom,
			"notes": fmt.Sprintf("https://vendor.example/advisories/%d ; https://nvd.nist.gov/vuln/detail/CVE-%d-%05d", i, 2015+i%11, 10000+i),
			"cwes":  []string{"CWE-20"},
		})
	}
	sort.Slice(vulns, func(a, b int) bool { return vulns[a]["dateAdded"].(string) > vulns[b]["dateAdded"].(string) })
	b, err := json.Marshal(map[string]any{"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": version,
		"dateReleased": "2025-08-25T17:00:00.000Z", "count": n, "vulnerabilities": vulns})
	require.NoError(tb, err)
	return b
}

// BenchmarkImportKEV: the full-size catalogue (1,400 entries, ~1 MB)
// imported into an empty catalogue (1,400 published, one atomic append),
// and the next release (10 published, 30 ransomware flags, 0 withdrawn)
// diffed against it, and the same release again (nothing appended).
func BenchmarkImportKEV(b *testing.B) {
	first, next := fullFeed(b, 1400, 200, "2025.08.25"), fullFeed(b, 1410, 230, "2025.08.26")
	run := func(b *testing.B, setup func(h *tcmd.Handlers), body []byte) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			b.StopTimer()
			h := benchHandlers(b)
			if setup != nil {
				setup(h)
			}
			b.StartTimer()
			_, err := h.ImportKEV(context.Background(), ct.TeamA, tcmd.ImportKEV{Format: "kev-json", Body: bytes.NewReader(body)})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	imp := func(body []byte) func(*tcmd.Handlers) {
		return func(h *tcmd.Handlers) {
			if _, err := h.ImportKEV(context.Background(), ct.TeamA, tcmd.ImportKEV{Format: "kev-json", Body: bytes.NewReader(body)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("first=1400", func(b *testing.B) { run(b, nil, first) })
	b.Run("diff=1400to1410", func(b *testing.B) { run(b, imp(first), next) })
	b.Run("same=1400", func(b *testing.B) { run(b, imp(first), first) })
}

// benchHandlers are the handlers over a fresh SQLite store.
func benchHandlers(b *testing.B) *tcmd.Handlers {
	b.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = store.Close() })
	return tcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now)).WithFeeds(feeds{})
}
