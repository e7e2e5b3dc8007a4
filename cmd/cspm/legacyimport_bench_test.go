package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeLegacyVolume writes a legacy export of one account, scans scan runs
// and findings findings (spread over the scans, a third of them resolved).
func writeLegacyVolume(b *testing.B, dir string, scans, findings int) {
	b.Helper()
	write := func(name string, n int, line func(i int) string) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for i := range n {
			fmt.Fprintln(w, line(i))
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return `{"$date":"` + t0.Add(d).Format(time.RFC3339) + `"}` }
	write("cspm_cloud_security.enhanced_cloud_accounts.json", 1, func(int) string {
		return `{"_id":{"$oid":"650000000000000000000001"},"team_id":"t","provider":"aws","account_id":"123456789012","name":"prod","created_at":` + date(0) + `}`
	})
	write("cspm_orchestration.scan_runs.json", scans, func(i int) string {
		return fmt.Sprintf(`{"_id":{"$oid":"6500000000000000%08x"},"scan_id":"s%d","team_id":"t","account_id":"123456789012","provider":"aws","tool":"prowler","status":"completed","created_at":%s,"started_at":%s,"completed_at":%s,"resources_scanned":{"$numberInt":"100"}}`,
			i, i, date(time.Duration(i)*time.Hour), date(time.Duration(i)*time.Hour+time.Minute), date(time.Duration(i)*time.Hour+time.Minute*30))
	})
	write("cspm_cloud_security.findings.json", findings, func(i int) string {
		status, resolved := "open", ""
		if i%3 == 0 {
			status, resolved = "resolved", `,"resolved_at":`+date(time.Duration(scans)*time.Hour)
		}
		s := i % scans
		return fmt.Sprintf(`{"_id":{"$oid":"6600000000000000%08x"},"team_id":"t","scan_id":"s%d","check_id":"check_%d","title":"Check %d","severity":"high","resource_id":"arn:aws:s3:::bucket-%d","region":"eu-west-1","status":"%s","first_seen":%s%s}`,
			i, s, i%50, i%50, i, status, date(time.Duration(s)*time.Hour+time.Minute*10), resolved)
	})
}

// BenchmarkImportLegacy imports a legacy export of 20 scan runs and 2,000
// findings into a fresh embedded store, per iteration; its baseline, in the
// same run, is the same export read and checked only (--dry-run), so the
// difference is the appends; the import is also run with
// CSPM_SQLITE_SYNC=normal (no fsync per commit).
//
//	go test -run '^$' -bench ImportLegacy -benchtime 3x ./cmd/cspm
//
// Metrics: docs/s (documents of the export per second), events/s.
func BenchmarkImportLegacy(b *testing.B) {
	const scans, findings = 20, 2000
	dir := b.TempDir()
	writeLegacyVolume(b, dir, scans, findings)
	docs := float64(1 + scans + findings)
	for _, mode := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"read-only-baseline", []string{"--dry-run"}, nil},
		{"import", nil, nil},
		{"import-sqlite-sync-normal", nil, map[string]string{"CSPM_SQLITE_SYNC": "normal"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var events int
			var elapsed time.Duration
			for range b.N {
				env := map[string]string{"CSPM_DATA_DIR": b.TempDir(), "CSPM_AUDIT_DIR": b.TempDir()}
				maps.Copy(env, mode.env)
				start := time.Now()
				r := runCLI(env, append([]string{"import-legacy", "--from-dir", dir, "--json"}, mode.args...)...)
				elapsed += time.Since(start)
				if r.code != exitOK {
					b.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				var rep legacyReport
				if err := jsonUnmarshal(r.stdout, &rep); err != nil {
					b.Fatal(err)
				}
				events += rep.Events
			}
			b.ReportMetric(docs*float64(b.N)/elapsed.Seconds(), "docs/s")
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
}

// runCLI runs the CLI in process with env only (no test's audit directory).
func runCLI(env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
