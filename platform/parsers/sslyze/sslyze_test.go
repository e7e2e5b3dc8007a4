package sslyze

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

const sample = "sslyze_5.0.1_one_target_many_vuln_trimmed.json"

func parseBytes(t *testing.T, b []byte) ([]cloudsecurity.Observation, Summary) {
	t.Helper()
	f, ok := Detect(b[:min(len(b), 64<<10)])
	require.True(t, ok)
	require.Equal(t, Format, f)
	var out []cloudsecurity.Observation
	s, err := Parse(context.Background(), bytes.NewReader(b), func(o cloudsecurity.Observation) error {
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

func read(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", sample))
	require.NoError(t, err)
	return b
}

func failing(obs []cloudsecurity.Observation) map[string]cloudsecurity.Severity {
	out := map[string]cloudsecurity.Severity{}
	for _, o := range obs {
		if o.Result == cloudsecurity.ResultFail {
			out[o.CheckID] = o.Severity
		}
	}
	return out
}

func TestSample(t *testing.T) {
	obs, s := parseBytes(t, read(t))
	require.Equal(t, "5.0.1", s.ToolVersion)
	require.Equal(t, time.Date(2022, 1, 17, 16, 45, 7, 847329000, time.UTC), s.StartedAt)
	require.Equal(t, []string{"example.com:443"}, s.Targets)
	// certificate_info 7 rules, heartbleed, CCS, ROBOT, renegotiation 2,
	// compression, SSL 2/3 and TLS 1.0/1.1 offered, weak suites; the four
	// NOT_SCHEDULED commands evaluate nothing.
	require.Len(t, obs, 18)
	require.Equal(t, map[string]cloudsecurity.Severity{
		"protocol-tls1.0": cloudsecurity.SeverityMedium, "protocol-tls1.1": cloudsecurity.SeverityMedium,
		"weak-cipher-suites": cloudsecurity.SeverityMedium,
	}, failing(obs))
	require.Empty(t, s.Problems)
	require.Len(t, s.Certificates, 1)
	c := s.Certificates[0]
	require.Equal(t, time.Date(2022, 5, 17, 12, 0, 0, 0, time.UTC), c.NotAfter)
	require.Equal(t, "9094c2bdfa697b4503daad1167eb20a5a471ea98d01f7654726"+"3fc9eaec7c8f2", c.FingerprintSHA256) // base64 in the report
	for _, o := range obs {
		require.Equal(t, "tls", o.Provider)
		require.Equal(t, "example.com:443", o.AccountUID)
		if strings.HasPrefix(o.CheckID, "cert-") {
			require.Equal(t, "example.com/1.1.1.1:443#cert1", o.ResourceUID)
		} else {
			require.Equal(t, "example.com/1.1.1.1:443", o.ResourceUID)
		}
	}
}

func TestUnreachableServerAndErroredCommandAreProblems(t *testing.T) {
	in := `{"sslyze_version":"5.2.0","date_scans_started":"2024-01-01T00:00:00","server_scan_results":[
	 {"server_location":{"hostname":"down.example","ip_address":null,"port":443},"connectivity_status":"ERROR","connectivity_error_trace":"Traceback...\nConnectionToServerFailed: timed out","scan_status":"ERROR_NO_CONNECTIVITY","scan_result":null},
	 {"server_location":{"hostname":"up.example","ip_address":"192.0.2.1","port":443},"connectivity_status":"COMPLETED","scan_status":"COMPLETED","scan_result":{
	   "heartbleed":{"status":"ERROR","error_reason":"BUG_IN_SSLYZE","result":null},
	   "tls_compression":{"status":"COMPLETED","result":{"supports_compression":true}},
	   "robot":{"status":"NOT_SCHEDULED","result":null}}}]}`
	obs, s := parseBytes(t, []byte(in))
	require.Equal(t, []string{"up.example:443"}, s.Targets)
	require.Len(t, obs, 1) // heartbleed errored and robot was not scheduled: not evaluated
	require.Equal(t, map[string]cloudsecurity.Severity{"compression": cloudsecurity.SeverityMedium}, failing(obs))
	require.Len(t, s.Problems, 2)
	require.Equal(t, "down.example:443", s.Problems[0].Target)
	require.Contains(t, s.Problems[0].Message, "timed out")
	require.Equal(t, "heartbleed", s.Problems[1].Check)
}

func TestBrokenReportsAreRejected(t *testing.T) {
	b := read(t)
	for _, cut := range []int{3, len(b) / 2, len(b) - 2} {
		_, err := Parse(context.Background(), bytes.NewReader(b[:cut]), func(cloudsecurity.Observation) error { return nil })
		require.ErrorIs(t, err, ErrMalformed)
	}
	_, err := Parse(context.Background(), strings.NewReader(`{"sslyze_version":"2.1.4","date_scans_started":"2020-01-01T00:00:00","server_scan_results":[]}`), func(cloudsecurity.Observation) error { return nil })
	require.ErrorIs(t, err, ErrMalformed)
}
