package testssl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func parseFile(t *testing.T, path string) ([]cloudsecurity.Observation, Summary) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f, ok := Detect(b[:min(len(b), 64<<10)])
	require.True(t, ok)
	require.Equal(t, Format, f)
	var out []cloudsecurity.Observation
	s, err := Parse(context.Background(), bytes.NewReader(b), func(o cloudsecurity.Observation) error {
		if o.ObservedAt.IsZero() {
			o.ObservedAt = s0 // the import dates a flat report
		}
		_, err := cloudsecurity.ResultOf(o)
		require.NoError(t, err, "%+v", o)
		_, err = cloudsecurity.CheckInfoOf(o)
		require.NoError(t, err)
		out = append(out, o)
		return nil
	})
	require.NoError(t, err)
	return out, s
}

var s0 = mustTime("2026-01-01T00:00:00Z")

func count(obs []cloudsecurity.Observation, r cloudsecurity.Result) int {
	n := 0
	for _, o := range obs {
		if o.Result == r {
			n++
		}
	}
	return n
}

func TestPrettySample(t *testing.T) {
	obs, s := parseFile(t, filepath.Join("testdata", "testssl_3.0rc2_jsonpretty_www.google.com.json"))
	require.Equal(t, "pretty", s.Layout)
	require.Equal(t, "3.0rc2", s.ToolVersion)
	require.Equal(t, "2018-11-13T19:49:17Z", s.StartedAt.Format("2006-01-02T15:04:05Z07:00"))
	require.Equal(t, []string{"www.google.com:443"}, s.Targets)
	require.Len(t, obs, 73) // 46 INFO + 24 OK (passes) + 3 LOW
	require.Equal(t, 3, count(obs, cloudsecurity.ResultFail))
	require.Len(t, s.Certificates, 2)
	require.Equal(t, "2019-01-22T06:14:00Z", s.Certificates[0].NotAfter.Format("2006-01-02T15:04:05Z07:00"))
	for _, o := range obs {
		require.Equal(t, s.StartedAt, o.ObservedAt)
		require.Equal(t, "tls", o.Provider)
		if o.CheckID == "cert_notAfter" {
			require.Contains(t, []string{"www.google.com/172.217.6.68:443#cert1", "www.google.com/172.217.6.68:443#cert2"}, o.ResourceUID)
		}
	}
}

func TestOursFlat_OKCVEsAreNotFindings_FatalIsAProblem(t *testing.T) {
	obs, s := parseFile(t, filepath.Join("testdata", "ours_testssl_3.2_flat_fatal_and_ok_cves.json"))
	require.Equal(t, "flat", s.Layout)
	require.True(t, s.StartedAt.IsZero())
	require.Equal(t, []string{"ok.example:443"}, s.Targets) // the FATAL target evaluated nothing
	require.Len(t, obs, 5)                                  // scanTime, WARN and FATAL rows are no observations
	require.Equal(t, 1, count(obs, cloudsecurity.ResultFail))
	for _, o := range obs {
		if o.CheckID == "heartbleed" || o.CheckID == "ROBOT" {
			require.Equal(t, cloudsecurity.ResultPass, o.Result) // a CVE named on an OK row
			require.NotEmpty(t, o.Categories)
		}
	}
	require.Len(t, s.Problems, 2)
	require.Equal(t, cloudsecurity.ScanProblem{Target: "down.example:443", Check: "scanProblem", Level: "FATAL",
		Message: "Can't connect to '192.0.2.20:443' Make sure a firewall is not between you and your scanning target!"}, s.Problems[1])
	require.Equal(t, "WARN", s.Problems[0].Level)
	require.Equal(t, []Certificate{{Target: "ok.example:443", Cert: "cert1", NotAfter: mustTime("2026-12-20T12:00:00Z")}}, s.Certificates)
}

// The real flat report of www.badssl.com (no licence: not copied; read
// beside the repository).
func TestSharedFlatSample(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "external", "testssl", "testssl_3.x_jsonflat_www.badssl.com.json")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CSPM_SKIP_SHARED_FIXTURES") == "1" {
			t.Skipf("SKIPPED: %s is not here (CSPM_SKIP_SHARED_FIXTURES=1): this test did not run", path)
		}
		t.Fatalf("%s: %v (set CSPM_SKIP_SHARED_FIXTURES=1 to skip)", path, err)
	}
	obs, s := parseFile(t, path)
	require.Equal(t, []string{"www.badssl.com:443"}, s.Targets)
	require.Len(t, obs, 202)                                    // 203 rows, scanTime is no observation
	require.Equal(t, 55, count(obs, cloudsecurity.ResultFail))  // LOW 45 + MEDIUM 10
	require.Equal(t, 147, count(obs, cloudsecurity.ResultPass)) // OK 49 + INFO 98
	require.Empty(t, s.Problems)
	require.Len(t, s.Certificates, 1)
}

func TestBrokenReportsAreRejected(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "testssl_3.0rc2_jsonpretty_www.google.com.json"))
	require.NoError(t, err)
	for _, cut := range []int{5, len(b) / 3, len(b) - 3} {
		_, err := Parse(context.Background(), bytes.NewReader(b[:cut]), func(cloudsecurity.Observation) error { return nil })
		require.ErrorIs(t, err, ErrMalformed)
	}
	_, err = Parse(context.Background(), bytes.NewReader([]byte(`[{"id":"x","ip":"a/1.2.3.4","port":"443","severity":"SEVERE","finding":"?"}]`)), func(cloudsecurity.Observation) error { return nil })
	require.ErrorIs(t, err, ErrMalformed)
}

func mustTime(s string) (t0 time.Time) {
	t0, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t0
}
