package parsers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func head(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b[:min(len(b), 64<<10)]
}

// Every scanner sample is detected as its format, and parses through the
// registry; no other tool's sample is taken for a scanner's.
func TestScannerFormatsDetectedAndParsed(t *testing.T) {
	want := map[string]string{
		"nuclei/testdata/nuclei_v2_2021_legacy_keys.jsonl":               "nuclei-jsonl",
		"nuclei/testdata/nuclei_v2_2022_hyphen_keys.jsonl":               "nuclei-jsonl",
		"nuclei/testdata/nuclei_v3_2023_json_export_array.json":          "nuclei-json",
		"nuclei/testdata/nuclei_v3_2024_multiple_matches.jsonl":          "nuclei-jsonl",
		"nuclei/testdata/nuclei_v3_2026_dvwa_subset.jsonl":               "nuclei-jsonl",
		"zap/testdata/zap_2021-12-01_baseline_itsecgames_report.json":    "zap-json",
		"zap/testdata/zap_2024-04-07_baseline_itsecgames_report.json":    "zap-json",
		"testssl/testdata/testssl_3.0rc2_jsonpretty_www.google.com.json": "testssl-json",
		"testssl/testdata/ours_testssl_3.2_flat_fatal_and_ok_cves.json":  "testssl-json",
		"sslyze/testdata/sslyze_5.0.1_one_target_many_vuln_trimmed.json": "sslyze-json",
	}
	var reg Registry
	for path, format := range want {
		f, err := reg.Detect(head(t, path))
		require.NoError(t, err, path)
		require.Equal(t, format, f, path)
		r, err := os.Open(path)
		require.NoError(t, err)
		n := 0
		info, err := reg.Parse(context.Background(), r, f, func(cloudsecurity.Observation) error { n++; return nil })
		_ = r.Close()
		require.NoError(t, err, path)
		require.Equal(t, format, info.Format)
		require.NotEmpty(t, info.Tool)
		require.Positive(t, n, path)
	}
	for _, dir := range []string{"prowler/testdata", "trivy/testdata", "steampipe/testdata"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, f := range files {
			_, ok := detectScanner(head(t, f))
			require.False(t, ok, "%s taken for a scanner's report", f)
		}
	}
	for name, format := range map[string]string{"nuclei": "nuclei-jsonl", "nuclei-json": "nuclei-json", "ZAP": "zap-json", "testssl": "testssl-json", "sslyze": "sslyze-json"} {
		f, err := reg.Format(name)
		require.NoError(t, err)
		require.Equal(t, format, f)
	}
}
