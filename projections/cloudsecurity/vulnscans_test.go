package cloudsecurity_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// A Trivy import's document in the imports collection: received when it
// starts, completed with its artifact and counts; a rejected one alone;
// the same whatever the order of the two streams.
func TestVulnScanImports(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	streams := [][]projections.Event{
		pt.Stream("team-a", pt.Positions(1, 2),
			vuln.ScanImportStarted{ImportID: "vim-1", Format: "trivy-json", Tool: "trivy", ToolVersion: "0.50.1", ContentHash: "h1", Size: 10,
				ArtifactID: "art-1", ScannedAt: at, StartedAt: at.Add(time.Minute)},
			vuln.ArtifactScanned{ImportID: "vim-1", ArtifactID: "art-1", IdentityRule: vuln.IdentityTrivyV1, ScannedAt: at, CompletedAt: at.Add(time.Minute),
				Counts: vuln.ScanCounts{Occurrences: 4, DistinctVulnerabilities: 2, BySeverity: map[vuln.Severity]int{"medium": 4}, Chunks: 1}}),
		pt.Stream("team-a", pt.Positions(3),
			vuln.ScanImportRejected{ImportID: "vim-2", Format: "trivy-json", ContentHash: "h2", Size: 3, Reason: "not JSON", RejectedAt: at}),
	}
	tx := pt.Apply(t, cloudsecurity.NewFindings(), append(streams[0], streams[1]...)...)
	done := tx.Doc(t, cloudsecurity.ImportsCollection, "vim-1")
	assert.Equal(t, "completed", done["status"])
	assert.Equal(t, "art-1", done["artifact_id"])
	assert.Equal(t, "trivy", done["tool"])
	assert.Equal(t, int64(4), done["counts"].(map[string]any)["occurrences"])
	assert.Equal(t, int64(4), done["counts"].(map[string]any)["by_severity"].(map[string]any)["medium"])
	rejected := tx.Doc(t, cloudsecurity.ImportsCollection, "vim-2")
	assert.Equal(t, "rejected", rejected["status"])
	assert.Equal(t, "not JSON", rejected["reason"])
	pt.AssertOrderIndependent(t, cloudsecurity.NewFindings(), streams)
}
