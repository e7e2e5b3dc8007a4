// Package zap reads OWASP ZAP's traditional JSON report (`-J`, the
// baseline and full scans' report_json.json; ZAP 2.9 to 2.14 at least):
// `{"@version", "@generated", "site": [{"@name", "alerts": [{"pluginid",
// "alertRef", "name", "riskcode", "confidence", "instances": [{"uri",
// "method", "param", "attack", "evidence"}]}]}]}`. Each distinct (plugin,
// method, URI, parameter) of a site becomes one failing
// cloudsecurity.Observation (identity rule zap/v1, docs/security-scans.md):
// provider "web", account = the site's origin, check = the plugin id,
// resource = "METHOD normalised-URI" and the parameter in lower case.
// alertRef and the alert's name, which drift across ZAP versions, are
// attributes. Pure.
package zap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/internal/scantext"
)

// Tool is the tool's name in observations.
const Tool = "zap"

// Format is the traditional JSON report.
const Format = "zap-json"

// SiteScannedCheck is the check of the pass a site without alerts gets:
// the evidence that the site was scanned (it fixes the site's findings,
// decision 59).
const SiteScannedCheck = "zap-site-scanned"

// ErrMalformed: not a ZAP traditional JSON report.
var ErrMalformed = errors.New("malformed zap report")

// Summary is what a parse learnt of a report.
type Summary struct {
	Version   string // ZAP's version (@version)
	Program   string // @programName (2.12+)
	Generated time.Time
	Sites     []string
	Alerts    int // alerts (plugin × site), as ZAP lists them
	Instances int // instances, as ZAP lists them
	Results   int // observations emitted (distinct identities, site markers)
}

// Detect names the format from a report's first bytes: an object naming
// "@version" and "site".
func Detect(head []byte) (string, bool) {
	if scantext.FirstNonSpace(head) != '{' {
		return "", false
	}
	if bytes.Contains(head, []byte(`"@version"`)) && bytes.Contains(head, []byte(`"site"`)) {
		return Format, true
	}
	return "", false
}

type report struct {
	Program   string `json:"@programName"`
	Version   string `json:"@version"`
	Generated string `json:"@generated"`
	Site      []site `json:"site"`
}

type site struct {
	Name   string  `json:"@name"`
	Host   string  `json:"@host"`
	Port   string  `json:"@port"`
	SSL    string  `json:"@ssl"`
	Alerts []alert `json:"alerts"`
}

type alert struct {
	PluginID   string     `json:"pluginid"`
	AlertRef   string     `json:"alertRef"`
	Alert      string     `json:"alert"`
	Name       string     `json:"name"`
	RiskCode   string     `json:"riskcode"`
	Confidence string     `json:"confidence"`
	Desc       string     `json:"desc"`
	Solution   string     `json:"solution"`
	OtherInfo  string     `json:"otherinfo"`
	Reference  string     `json:"reference"`
	CWEID      string     `json:"cweid"`
	WASCID     string     `json:"wascid"`
	Instances  []instance `json:"instances"`
}

type instance struct {
	URI       string `json:"uri"`
	Method    string `json:"method"`
	Param     string `json:"param"`
	Attack    string `json:"attack"`
	Evidence  string `json:"evidence"`
	OtherInfo string `json:"otherinfo"`
}

// Parse reads a whole report (at most scantext.MaxReportBytes) and calls
// emit with each finding.
func Parse(ctx context.Context, r io.Reader, emit func(cloudsecurity.Observation) error) (Summary, error) {
	var s Summary
	b, err := scantext.ReadAll(r)
	if err != nil {
		return s, fmt.Errorf("zap: %w", err)
	}
	var rep report
	dec := json.NewDecoder(bytes.NewReader(scantext.TrimBOM(b)))
	if err := dec.Decode(&rep); err != nil {
		return s, fmt.Errorf("zap: %w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return s, fmt.Errorf("zap: %w: content after the report", ErrMalformed)
	}
	if rep.Version == "" || rep.Site == nil {
		return s, fmt.Errorf("zap: %w: no @version or site", ErrMalformed)
	}
	s.Version, s.Program = scantext.Line(rep.Version, 100), scantext.Line(rep.Program, 100)
	at, err := generated(rep.Generated)
	if err != nil {
		return s, fmt.Errorf("zap: @generated %q: %w: %v", rep.Generated, ErrMalformed, err)
	}
	s.Generated = at
	for si, st := range rep.Site {
		origin, err := st.origin()
		if err != nil {
			return s, fmt.Errorf("zap: site[%d]: %w", si, err)
		}
		s.Sites = append(s.Sites, origin)
		if len(st.Alerts) == 0 {
			o := cloudsecurity.Observation{Tool: Tool, ToolVersion: s.Version, Provider: cloudsecurity.ProviderWeb,
				AccountUID: origin, CheckID: SiteScannedCheck, CheckTitle: "Site scanned by ZAP",
				Result: cloudsecurity.ResultPass, ResourceUID: origin, ResourceType: "site",
				StatusDetail: "no alerts", ObservedAt: at}
			s.Results++
			if err := emit(o); err != nil {
				return s, err
			}
		}
		for ai, a := range st.Alerts {
			if err := ctx.Err(); err != nil {
				return s, err
			}
			s.Alerts++
			s.Instances += len(a.Instances)
			obs, err := a.observations(origin, at, s.Version)
			if err != nil {
				return s, fmt.Errorf("zap: site[%d].alerts[%d] (plugin %s): %w", si, ai, a.PluginID, err)
			}
			for _, o := range obs {
				s.Results++
				if err := emit(o); err != nil {
					return s, err
				}
			}
		}
	}
	return s, nil
}

// generated reads "@generated": "Wed, 1 Dec 2021 09:24:50" (no zone: read
// as UTC).
func generated(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"Mon, 2 Jan 2006 15:04:05", "Mon, 02 Jan 2006 15:04:05", time.RFC1123, time.RFC1123Z, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a ZAP time")
}

// origin is the site as the account of its findings: scheme://host[:port].
func (st site) origin() (string, error) {
	name := strings.TrimSpace(st.Name)
	if name == "" {
		scheme := "http"
		if strings.EqualFold(st.SSL, "true") {
			scheme = "https"
		}
		name = scheme + "://" + scantext.JoinHostPort(st.Host, st.Port)
	}
	u, ok := scantext.URL(name)
	if !ok {
		return "", fmt.Errorf("%w: @name %q is not a URL", ErrMalformed, st.Name)
	}
	return strings.TrimSuffix(u, "/"), nil
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"']+`)

func severity(riskcode string) (cloudsecurity.Severity, error) {
	switch strings.TrimSpace(riskcode) {
	case "0":
		return cloudsecurity.SeverityInformational, nil
	case "1":
		return cloudsecurity.SeverityLow, nil
	case "2":
		return cloudsecurity.SeverityMedium, nil
	case "3":
		return cloudsecurity.SeverityHigh, nil
	}
	return "", fmt.Errorf("%w: riskcode %q (0-3)", ErrMalformed, riskcode)
}

var confidences = map[string]string{"0": "false positive", "1": "low", "2": "medium", "3": "high", "4": "confirmed"}

// Key is what identity rule zap/v1 keeps of an instance (besides the site
// and the plugin): the method upper case, the URI normalised, the
// parameter lower case.
func Key(method, uri, param string) string {
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" {
		method = "GET"
	}
	u, ok := scantext.URL(uri)
	if !ok {
		u = strings.TrimSpace(uri)
	}
	k := method + " " + u
	if p := strings.ToLower(strings.TrimSpace(param)); p != "" {
		k += " param=" + p
	}
	return k
}

func (a alert) observations(origin string, at time.Time, version string) ([]cloudsecurity.Observation, error) {
	plugin := strings.TrimSpace(a.PluginID)
	if plugin == "" {
		return nil, fmt.Errorf("%w: no pluginid", ErrMalformed)
	}
	sev, err := severity(a.RiskCode)
	if err != nil {
		return nil, err
	}
	conf, ok := confidences[strings.TrimSpace(a.Confidence)]
	if !ok {
		return nil, fmt.Errorf("%w: confidence %q (0-4)", ErrMalformed, a.Confidence)
	}
	title := scantext.Line(firstOf(a.Name, a.Alert), 1000)
	var refs []string
	for _, u := range urlRE.FindAllString(a.Reference, -1) {
		if len(refs) < 32 && len(u) <= 2048 {
			refs = append(refs, u)
		}
	}
	var cats []string
	if n, _ := strconv.Atoi(a.CWEID); n > 0 {
		cats = append(cats, "CWE-"+strconv.Itoa(n))
	}
	if n, _ := strconv.Atoi(a.WASCID); n > 0 {
		cats = append(cats, "WASC-"+strconv.Itoa(n))
	}
	type group struct {
		first instance
		n     int
	}
	var order []string
	groups := map[string]*group{}
	for _, in := range a.Instances {
		k := Key(in.Method, in.URI, in.Param)
		if g := groups[k]; g != nil {
			g.n++
			continue
		}
		groups[k] = &group{first: in, n: 1}
		order = append(order, k)
	}
	out := make([]cloudsecurity.Observation, 0, len(order))
	for _, k := range order {
		g := groups[k]
		out = append(out, cloudsecurity.Observation{
			Tool: Tool, ToolVersion: version, Provider: cloudsecurity.ProviderWeb,
			AccountUID: origin, CheckID: scantext.Line(plugin, 256), CheckTitle: title,
			Severity: sev, Result: cloudsecurity.ResultFail,
			Muted:        conf == "false positive", // ZAP's own "false positive" mark
			StatusDetail: detail(a, g.first, g.n, conf),
			ResourceUID:  scantext.Line(k, 2048),
			ResourceName: scantext.Line(strings.TrimSpace(g.first.Method+" "+g.first.URI+" "+g.first.Param), 2048),
			ResourceType: "url",
			FindingUID:   scantext.Line(a.AlertRef, 256),
			Description:  text(a.Desc), Remediation: text(a.Solution),
			References: refs, Categories: cats, ObservedAt: at,
		})
	}
	return out, nil
}

func detail(a alert, in instance, n int, conf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d instance(s); alertRef %s; confidence %s", n, scantext.Line(a.AlertRef, 64), conf)
	for _, f := range []struct{ name, v string }{{"parameter", in.Param}, {"attack", in.Attack}, {"evidence", in.Evidence}, {"other info", firstOf(in.OtherInfo, a.OtherInfo)}} {
		if strings.TrimSpace(f.v) != "" {
			b.WriteString("\n" + f.name + " (as text, at most 1 KiB): " + scantext.Raw(f.v))
		}
	}
	return scantext.Cut(b.String(), 4000)
}

func text(s string) string { return scantext.Cut(scantext.Clean(strings.TrimSpace(s), true), 32_000) }

func firstOf(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}
