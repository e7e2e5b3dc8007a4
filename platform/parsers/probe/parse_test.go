package probe_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
)

func parseFile(t *testing.T, name string) ([]cloudsecurity.Observation, probe.Summary) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.True(t, probe.Detect(raw), "detected")
	return parse(t, raw)
}

func parse(t *testing.T, raw []byte) ([]cloudsecurity.Observation, probe.Summary) {
	t.Helper()
	var obs []cloudsecurity.Observation
	sum, err := probe.Parse(context.Background(), bytes.NewReader(raw), func(o cloudsecurity.Observation) error {
		obs = append(obs, o)
		return nil
	})
	require.NoError(t, err)
	return obs, sum
}

func TestHeadersSample(t *testing.T) {
	t.Parallel()
	obs, sum := parseFile(t, "headers_v1.json")
	require.Len(t, obs, 11)
	assert.Equal(t, probe.Summary{Probe: "headers", Target: "https://shop.example.com/", ToolVersion: "1.0", Results: 11}, sum)
	byResult := map[cloudsecurity.Result]int{}
	for _, o := range obs {
		byResult[o.Result]++
		assert.Equal(t, "cspm-probe", o.Tool)
		assert.Equal(t, "web", o.Provider)
		assert.Equal(t, "https://shop.example.com/", o.AccountUID, "the target, normalized")
		assert.Equal(t, "", o.Region)
		assert.Equal(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), o.ObservedAt)
		assert.NotEmpty(t, o.CheckTitle)
		assert.NotEmpty(t, o.Severity, "passes carry the check's severity")
	}
	assert.Equal(t, map[cloudsecurity.Result]int{cloudsecurity.ResultPass: 5, cloudsecurity.ResultFail: 6}, byResult)

	samesite := obs[8]
	assert.Equal(t, "cookie_samesite", samesite.CheckID)
	assert.Equal(t, "cookie:sid", samesite.ResourceUID)
	assert.Equal(t, "sid", samesite.ResourceName)
	assert.Equal(t, "cookie", samesite.ResourceType)
	assert.Equal(t, cloudsecurity.SeverityLow, samesite.Severity)
	assert.Equal(t, "sid=1; Secure; HttpOnly", samesite.ResourceTags["evidence"])

	hsts := obs[0]
	assert.Equal(t, "https://shop.example.com/", hsts.ResourceUID, "target-level checks sit on the target")
	assert.Equal(t, "url", hsts.ResourceType)
	assert.Equal(t, cloudsecurity.SeverityMedium, hsts.Severity, "a pass carries the catalogue's severity")

	id, err := cloudsecurity.IdentityOf(cloudsecurity.IdentityProbeV1, samesite)
	require.NoError(t, err)
	assert.Equal(t, cloudsecurity.Identity{Rule: "cspm-probe/v1", Scope: cloudsecurity.Scope{Provider: "web", Account: "https://shop.example.com/", Check: "cookie_samesite"}, Resource: "cookie:sid"}, id)
	rule, ok := cloudsecurity.RuleFor("cspm-probe")
	assert.True(t, ok)
	assert.Equal(t, cloudsecurity.IdentityProbeV1, rule)
}

func TestTLSSample(t *testing.T) {
	t.Parallel()
	obs, sum := parseFile(t, "tls_v1.json")
	require.Len(t, obs, 8, "the not_checked SSLv3 result imports as nothing")
	assert.Equal(t, 1, sum.NotChecked)
	assert.Equal(t, "shop.example.com:443", sum.Target)
	for _, o := range obs {
		assert.Equal(t, "tls", o.Provider)
		assert.Equal(t, "shop.example.com:443", o.AccountUID)
		assert.Equal(t, "shop.example.com:443", o.ResourceUID)
		assert.NotEqual(t, "protocol_sslv3", o.CheckID)
	}
	exp := obs[6]
	assert.Equal(t, "cert_expiry", exp.CheckID)
	assert.Equal(t, cloudsecurity.ResultFail, exp.Result)
	assert.Equal(t, "2026-06-06T12:00:00Z", exp.ResourceTags["not_after"], "expiry is told from the data and the clock")
}

// Write and Parse agree: a report written is read back, evidence capped.
func TestWriteRoundTrip(t *testing.T) {
	t.Parallel()
	na := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	require.NoError(t, probe.Write(&buf, probe.Report{Probe: "tls", Target: "h:8443", StartedAt: na.AddDate(-1, 0, 0), Results: []probe.Result{
		{Check: "cert_expiry", Result: "pass", Evidence: strings.Repeat("é", 1000), NotAfter: &na},
	}}))
	obs, _ := parse(t, buf.Bytes())
	require.Len(t, obs, 1)
	assert.LessOrEqual(t, len(obs[0].ResourceTags["evidence"]), probe.MaxEvidence)
	assert.True(t, strings.HasSuffix(obs[0].ResourceTags["evidence"], "é"), "cut between characters")
	assert.Equal(t, "2027-01-01T00:00:00Z", obs[0].ResourceTags["not_after"])
	assert.Equal(t, "h:8443", obs[0].AccountUID)
}

// A report that does not check out is rejected whole: nothing emitted.
func TestBrokenReports(t *testing.T) {
	t.Parallel()
	base := func(results string) string {
		return `{"format":"cspm-probe-json","version":1,"probe":"headers","target":"https://a.example","started_at":"2026-06-01T12:00:00Z","results":[` + results + `]}`
	}
	ok := `{"check":"hsts","result":"pass"}`
	cases := map[string]struct{ doc, err string }{
		"not json":                            {`{"format":`, "unexpected EOF"},
		"another format":                      {strings.Replace(base(ok), `"cspm-probe-json"`, `"prowler"`, 1), `format: must be "cspm-probe-json"`},
		"a newer version":                     {strings.Replace(base(ok), `"version":1`, `"version":2`, 1), "version: 2 is not read"},
		"unknown probe":                       {strings.Replace(base(ok), `"headers"`, `"ssh"`, 1), "probe: must be"},
		"no target":                           {strings.Replace(base(ok), `"https://a.example"`, `""`, 1), "target: is required"},
		"ftp target":                          {strings.Replace(base(ok), `"https://a.example"`, `"ftp://a.example"`, 1), "http or https"},
		"no time":                             {strings.Replace(base(ok), `"2026-06-01T12:00:00Z"`, `"0001-01-01T00:00:00Z"`, 1), "started_at: is required"},
		"bad result":                          {base(`{"check":"hsts","result":"ok"}`), "results[0].result"},
		"bad check id":                        {base(`{"check":"HSTS!","result":"pass"}`), "results[0].check"},
		"bad severity":                        {base(`{"check":"hsts","result":"fail","severity":"urgent"}`), "results[0].severity"},
		"twice":                               {base(ok + "," + ok), "reported twice"},
		"trailing data":                       {base(ok) + `{}`, "data after"},
		"cookie with a control character":     {base(`{"check":"cookie_secure","cookie":"a\u0001","result":"pass"}`), "results[0].cookie"},
		"target too long":                     {strings.Replace(base(ok), `"https://a.example"`, `"https://a.example/`+strings.Repeat("p", 300)+`"`, 1), "at most 256 bytes"},
		"tls target with a control character": {strings.Replace(strings.Replace(base(ok), `"headers"`, `"tls"`, 1), `"https://a.example"`, `"a\u0001b:443"`, 1), "control characters"},
		"results not list":                    {strings.Replace(base(ok), `"results":[`, `"results":{"a":[`, 1) + "}", "cannot unmarshal"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := 0
			_, err := probe.Parse(context.Background(), strings.NewReader(tc.doc), func(cloudsecurity.Observation) error { n++; return nil })
			require.Error(t, err)
			assert.ErrorIs(t, err, probe.ErrBroken)
			assert.Contains(t, err.Error(), tc.err)
			assert.Zero(t, n, "nothing emitted")
		})
	}
}

func TestByteOrderMark(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "tls_v1.json"))
	require.NoError(t, err)
	raw = append([]byte("\xef\xbb\xbf"), raw...)
	assert.True(t, probe.Detect(raw))
	obs, _ := parse(t, raw)
	assert.Len(t, obs, 8)
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	doc := `{"format":"cspm-probe-json","pad":"` + strings.Repeat("x", probe.MaxReportBytes) + `"}`
	_, err := probe.Parse(context.Background(), strings.NewReader(doc), func(cloudsecurity.Observation) error { return nil })
	assert.ErrorContains(t, err, "larger than")
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com":                  "https://example.com/",
		"HTTPS://Example.COM:443":      "https://example.com/",
		"http://example.com:80/a?b#c":  "http://example.com/a?b",
		"https://u:p@example.com:8443": "https://example.com:8443/",
		"https://[::1]:8443/x":         "https://[::1]:8443/x",
	} {
		got, err := probe.NormalizeURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{
		"Example.com":             "example.com:443",
		"example.com:8443":        "example.com:8443",
		"https://example.com/x":   "example.com:443",
		"https://example.com:444": "example.com:444",
		"[::1]:993":               "::1:993",
	} {
		h, p, err := probe.NormalizeHostPort(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, h+":"+p, in)
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	assert.True(t, probe.Detect([]byte("\n {\"format\": \"cspm-probe-json\", \"version\": 1")))
	assert.False(t, probe.Detect([]byte(`[{"format":"cspm-probe-json"}]`)))
	assert.False(t, probe.Detect([]byte(`{"SchemaVersion": 2}`)))
}

// A header value may hold a tab: the detail and evidence keep no control
// characters (the import refuses them in tags).
func TestControlCharactersInEvidence(t *testing.T) {
	t.Parallel()
	doc := `{"format":"cspm-probe-json","version":1,"probe":"headers","target":"https://a.example","started_at":"2026-06-01T12:00:00Z",` +
		`"results":[{"check":"csp","result":"fail","detail":"a\tb\nc","evidence":"default-src\t'self'\u0007"}]}`
	obs, _ := parse(t, []byte(doc))
	require.Len(t, obs, 1)
	assert.Equal(t, "a b c", obs[0].StatusDetail)
	assert.Equal(t, "default-src 'self' ", obs[0].ResourceTags["evidence"])
	_, err := cloudsecurity.ResultOf(obs[0])
	assert.NoError(t, err)
}
