package nuclei

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func parseFile(t *testing.T, name string) ([]cloudsecurity.Observation, Summary) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	f, ok := Detect(b[:min(len(b), 64<<10)])
	require.True(t, ok, "detected")
	var out []cloudsecurity.Observation
	s, err := Parse(context.Background(), bytes.NewReader(b), f, func(o cloudsecurity.Observation) error {
		_, err := cloudsecurity.ResultOf(o) // every observation passes the domain's rules
		require.NoError(t, err, "%+v", o)
		_, err = cloudsecurity.CheckInfoOf(o)
		require.NoError(t, err)
		out = append(out, o)
		return nil
	})
	require.NoError(t, err)
	return out, s
}

func TestEverySampleParses(t *testing.T) {
	cases := []struct {
		file             string
		format           string
		results, targets int
		problems         int
	}{
		{"nuclei_v2_2021_legacy_keys.jsonl", FormatJSONL, 18, 2, 0},
		{"nuclei_v2_2022_hyphen_keys.jsonl", FormatJSONL, 2, 1, 0},
		{"nuclei_v3_2023_json_export_array.json", FormatJSON, 6, 1, 0},
		{"nuclei_v3_2024_multiple_matches.jsonl", FormatJSONL, 2, 1, 0},
		// 14 lines: the DNS nameserver-fingerprint result names no target
		// at all (no host, matched-at, url or ip): a scan problem.
		{"nuclei_v3_2026_dvwa_subset.jsonl", FormatJSONL, 13, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			obs, s := parseFile(t, c.file)
			require.Equal(t, c.format, s.Format)
			require.Len(t, obs, c.results)
			require.Equal(t, c.results, s.Results)
			require.Len(t, s.Targets, c.targets, "%v", s.Targets)
			require.Len(t, s.Problems, c.problems)
			for _, o := range obs {
				require.Equal(t, cloudsecurity.ResultFail, o.Result)
				require.Equal(t, "web", o.Provider)
				require.NotEmpty(t, o.ResourceUID)
				require.False(t, o.ObservedAt.IsZero())
			}
		})
	}
}

func TestKeyGenerationsMapAlike(t *testing.T) {
	obs, _ := parseFile(t, "nuclei_v2_2021_legacy_keys.jsonl")
	require.Equal(t, "openssh5.3-detect", obs[0].CheckID)
	require.Equal(t, "nuclei-example.com", obs[0].AccountUID)
	require.Equal(t, "nuclei-example.com:22", obs[0].ResourceUID)
	require.Equal(t, cloudsecurity.SeverityLow, obs[0].Severity)
	require.Len(t, obs[0].References, 3) // a newline-separated string in 2.3
	require.Equal(t, "tech-detect:animate.css", obs[3].CheckID)
	require.Equal(t, "127.0.0.1", obs[3].AccountUID)
	require.Equal(t, "http://127.0.0.1:8080/WebGoat", obs[3].ResourceUID)
	require.Contains(t, obs[1].StatusDetail, "nginx/1.14.2") // extracted_results

	obs, _ = parseFile(t, "nuclei_v2_2022_hyphen_keys.jsonl")
	require.Equal(t, "CVE-2018-15473", obs[0].CheckID)
	require.Contains(t, obs[0].Categories, "CVE-2018-15473") // lower case in the report
	require.Contains(t, obs[0].Categories, "CWE-362")

	obs, _ = parseFile(t, "nuclei_v3_2024_multiple_matches.jsonl")
	require.Equal(t, "tech-detect:genexus", obs[0].CheckID)
	require.Equal(t, "tech-detect:recaptcha", obs[1].CheckID) // differ only by matcher: two findings
	require.Equal(t, obs[0].ResourceUID, obs[1].ResourceUID)

	obs, _ = parseFile(t, "nuclei_v3_2026_dvwa_subset.jsonl")
	require.Equal(t, "dvwa_dvwa_1", obs[0].AccountUID) // no host key: from matched-at
	require.Equal(t, "http://dvwa_dvwa_1/index.php", obs[0].ResourceUID)
	require.Equal(t, cloudsecurity.SeverityCritical, obs[0].Severity)
	// javascript results have no matched-at: url "/http://dvwa_dvwa_1/"
	require.Equal(t, "cookies-without-httponly", obs[1].CheckID)
	require.Equal(t, "http://dvwa_dvwa_1/", obs[1].ResourceUID)
}

func TestRawRequestsAreCapped(t *testing.T) {
	big := strings.Repeat("A", 200_000)
	line := `{"template-id":"x","info":{"name":"X","severity":"high"},"type":"http","host":"h.example","matched-at":"HTTPS://H.Example:443","timestamp":"2024-01-01T00:00:00Z","request":"GET / HTTP/1.1\r\n` + big + `","response":"` + big + `","curl-command":"curl -X POST https://evil"}`
	var got cloudsecurity.Observation
	_, err := Parse(context.Background(), strings.NewReader(line), FormatJSONL, func(o cloudsecurity.Observation) error { got = o; return nil })
	require.NoError(t, err)
	require.Less(t, len(got.StatusDetail), 4100)
	require.Contains(t, got.StatusDetail, "bytes cut]")
	require.NotContains(t, got.StatusDetail, "curl")
	require.Equal(t, "https://h.example/", got.ResourceUID) // normalised
	_, err = cloudsecurity.ResultOf(got)
	require.NoError(t, err)
}

func TestBrokenReportsAreRejected(t *testing.T) {
	for name, in := range map[string]string{
		"cut line":   `{"template-id":"x","info":{"severity":"low"},"host":"a","timestamp":"2024-01-01T00:00:00Z"}` + "\n" + `{"template-id":"y","info":{`,
		"no time":    `{"template-id":"x","info":{"severity":"low"},"host":"a"}`,
		"bad sev":    `{"template-id":"x","info":{"severity":"urgent"},"host":"a","timestamp":"2024-01-01T00:00:00Z"}`,
		"not object": `[1,2]`,
	} {
		_, err := Parse(context.Background(), strings.NewReader(in), FormatJSONL, func(cloudsecurity.Observation) error { return nil })
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err := Parse(context.Background(), strings.NewReader(`[{"template-id":"x","info":{"severity":"low"},"host":"a","timestamp":"2024-01-01T00:00:00Z"}`), FormatJSON, func(cloudsecurity.Observation) error { return nil })
	require.ErrorIs(t, err, ErrMalformed)
}
