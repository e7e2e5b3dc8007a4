package zap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

const (
	dec01 = "zap_2021-12-01_baseline_itsecgames_report.json"
	dec02 = "zap_2021-12-02_baseline_itsecgames_report.json"
	apr24 = "zap_2024-04-07_baseline_itsecgames_report.json"
)

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

func parseFile(t *testing.T, name string) ([]cloudsecurity.Observation, Summary) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return parseBytes(t, b)
}

// identities are the findings' keys under zap/v1 (site, plugin, resource).
func identities(obs []cloudsecurity.Observation) map[string]bool {
	out := map[string]bool{}
	for _, o := range obs {
		id, err := cloudsecurity.IdentityOf(cloudsecurity.IdentityZAPV1, o)
		if err != nil {
			panic(err)
		}
		out[id.Account+"|"+id.Check+"|"+id.Resource] = true
	}
	return out
}

func TestEverySampleParses(t *testing.T) {
	cases := []struct {
		file                        string
		version                     string
		alerts, instances, findings int
	}{
		// 10096 (Timestamp Disclosure) has 755 instances on 2 (method,
		// URI, parameter): two findings.
		{dec01, "2.11.0", 10, 809, 56},
		{dec02, "2.11.0", 9, 803, 51},
		{apr24, "2.14.0", 12, 61, 61},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			obs, s := parseFile(t, c.file)
			require.Equal(t, c.version, s.Version)
			require.Equal(t, []string{"http://www.itsecgames.com"}, s.Sites)
			require.Equal(t, c.alerts, s.Alerts)
			require.Equal(t, c.instances, s.Instances)
			require.Len(t, obs, c.findings)
			require.Len(t, identities(obs), c.findings) // one observation per identity
			for _, o := range obs {
				require.Equal(t, "http://www.itsecgames.com", o.AccountUID)
				require.Equal(t, cloudsecurity.ResultFail, o.Result)
			}
		})
	}
}

func delta(before, after map[string]bool) (fixed, added, same []string) {
	for k := range before {
		if after[k] {
			same = append(same, k)
		} else {
			fixed = append(fixed, k)
		}
	}
	for k := range after {
		if !before[k] {
			added = append(added, k)
		}
	}
	sort.Strings(fixed)
	sort.Strings(added)
	return
}

// The scheduled scan of 2021-12-01 then 2021-12-02: Reverse Tabnabbing
// (10108) is gone from its 5 pages: 5 fixed, 0 new, 51 unchanged. 10096
// went from 755 to 754 instances, all still on the same 2 (URI, method,
// parameter): unchanged under zap/v1 (an instance is not a finding).
func TestDeltaOfTheDecemberPair(t *testing.T) {
	a, _ := parseFile(t, dec01)
	b, _ := parseFile(t, dec02)
	fixed, added, same := delta(identities(a), identities(b))
	require.Len(t, fixed, 5)
	for _, k := range fixed {
		require.Contains(t, k, "|10108|")
	}
	require.Empty(t, added)
	require.Len(t, same, 51)
}

// ZAP 2.11 (2021-12-02) to 2.14 (2024-04-07): renamed alerts (10020
// "X-Frame-Options Header Not Set" → "Missing Anti-clickjacking Header"),
// suffixed alertRefs (10038-1, 10020-1, 10063-1, 10094-3) and header
// parameters whose case changed keep their identity: 43 unchanged. The
// crawler reached 3 image pages (6 new on 10021/10049), the new rule
// family 90005 (12 new), and 10096 (2) and pages no longer reached (6)
// are gone: 8 fixed, 18 new.
func TestDeltaAcrossZAPVersions(t *testing.T) {
	b, _ := parseFile(t, dec02)
	c, _ := parseFile(t, apr24)
	fixed, added, same := delta(identities(b), identities(c))
	require.Len(t, same, 43)
	require.Len(t, fixed, 8)
	require.Len(t, added, 18)
	n90005 := 0
	for _, k := range added {
		if strings.Contains(k, "|90005|") {
			n90005++
		}
	}
	require.Equal(t, 12, n90005)
}

// A scanner upgrade that changes a parameter's case (and the alertRef
// and name) changes no identity.
func TestUpgradeChangingCaseKeepsIdentities(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", dec02))
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(raw, &rep))
	changed := 0
	for _, s := range rep["site"].([]any) {
		for _, a := range s.(map[string]any)["alerts"].([]any) {
			am := a.(map[string]any)
			am["alertRef"] = am["alertRef"].(string) + "-1"
			am["name"] = "Renamed " + am["name"].(string)
			for _, in := range am["instances"].([]any) {
				im := in.(map[string]any)
				if p := im["param"].(string); p != "" {
					im["param"] = strings.ToUpper(p)
					changed++
				}
				im["method"] = strings.ToLower(im["method"].(string))
				im["uri"] = strings.Replace(im["uri"].(string), "http://www.itsecgames.com", "HTTP://WWW.ITSECGAMES.COM:80", 1)
			}
		}
	}
	require.Positive(t, changed)
	upgraded, err := json.Marshal(rep)
	require.NoError(t, err)
	before, _ := parseFile(t, dec02)
	after, _ := parseBytes(t, upgraded)
	require.Equal(t, identities(before), identities(after))
}

func TestSiteWithoutAlertsIsEvidence(t *testing.T) {
	in := `{"@version":"2.14.0","@generated":"Sun, 7 Apr 2024 01:18:39","site":[{"@name":"https://Clean.Example:443","@host":"clean.example","@port":"443","@ssl":"true","alerts":[]}]}`
	obs, s := parseBytes(t, []byte(in))
	require.Equal(t, []string{"https://clean.example"}, s.Sites)
	require.Len(t, obs, 1)
	require.Equal(t, cloudsecurity.ResultPass, obs[0].Result)
	require.Equal(t, SiteScannedCheck, obs[0].CheckID)
}

func TestEvidenceIsCapped(t *testing.T) {
	big := strings.Repeat("<script>alert(1)</script>", 10_000)
	in := `{"@version":"2.14.0","@generated":"Sun, 7 Apr 2024 01:18:39","site":[{"@name":"http://a.example","alerts":[{"pluginid":"40012","alertRef":"40012","name":"XSS","riskcode":"3","confidence":"2","desc":"<p>x</p>","instances":[{"uri":"http://a.example/q?x=1","method":"POST","param":"X","attack":"` + big + `","evidence":"` + big + `"}]}]}]}`
	obs, _ := parseBytes(t, []byte(in))
	require.Len(t, obs, 1)
	require.Less(t, len(obs[0].StatusDetail), 4100)
	require.Contains(t, obs[0].StatusDetail, "bytes cut]")
	require.Equal(t, "POST http://a.example/q?x=1 param=x", obs[0].ResourceUID)
	require.Equal(t, cloudsecurity.SeverityHigh, obs[0].Severity)
}

func TestBrokenReportsAreRejected(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", dec01))
	require.NoError(t, err)
	for _, cut := range []int{10, len(raw) / 2, len(raw) - 5} {
		_, err := Parse(context.Background(), bytes.NewReader(raw[:cut]), func(cloudsecurity.Observation) error { return nil })
		require.ErrorIs(t, err, ErrMalformed, "cut at %d", cut)
	}
	_, err = Parse(context.Background(), strings.NewReader(`{"@version":"2","@generated":"Sun, 7 Apr 2024 01:18:39","site":[{"@name":"http://a","alerts":[{"pluginid":"1","riskcode":"9","confidence":"1"}]}]}`), func(cloudsecurity.Observation) error { return nil })
	require.ErrorIs(t, err, ErrMalformed)
}
