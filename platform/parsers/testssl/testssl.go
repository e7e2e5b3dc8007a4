// Package testssl reads testssl.sh's JSON output, both layouts: flat
// (`--jsonfile`: an array of `{id, ip: "host/ip", port, severity, [cve],
// [cwe], finding}`) and pretty (`--jsonfile-pretty`: `{Invocation,
// version, startTime, scanResult: [{targetHost, ip, port, <section>:
// [{id, severity, finding}]}]}`; 2.9dev's "target host" too). Each row is
// one observation of check <id> on the target (provider "tls", account =
// host:port, resource = host/ip:port and, for a certificate's rows,
// "#cert<N>": identity rule testssl/v1, docs/security-scans.md):
// OK and INFO rows are passes (a CVE named on an OK row is not a finding),
// LOW to CRITICAL rows failures, WARN and FATAL rows scan problems (no
// observation: they evaluate and fix nothing). Pure.
package testssl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/internal/scantext"
)

// Tool is the tool's name in observations.
const Tool = "testssl"

// Format names both layouts (told apart by the first byte).
const Format = "testssl-json"

// ErrMalformed: not a testssl.sh JSON report.
var ErrMalformed = errors.New("malformed testssl report")

// Certificate is what the report says of a certificate's validity: its
// not-after time (the clock decides later whether it has expired,
// decision 60).
type Certificate struct {
	Target   string    // host:port
	Cert     string    // "cert1" (testssl's <cert#1>)
	NotAfter time.Time // UTC (testssl writes the scanning machine's local time, without zone: read as UTC)
}

// Summary is what a parse learnt of a report.
type Summary struct {
	Layout       string // "flat" or "pretty"
	ToolVersion  string
	StartedAt    time.Time // zero for a flat report (it says no time)
	Targets      []string
	Results      int
	Problems     []cloudsecurity.ScanProblem
	Certificates []Certificate
}

// Detect names the format from a report's first bytes.
func Detect(head []byte) (string, bool) {
	switch scantext.FirstNonSpace(head) {
	case '[':
		if bytes.Contains(head, []byte(`"finding"`)) && bytes.Contains(head, []byte(`"severity"`)) && bytes.Contains(head, []byte(`"ip"`)) {
			return Format, true
		}
	case '{':
		if bytes.Contains(head, []byte(`"scanResult"`)) || (bytes.Contains(head, []byte(`"Invocation"`)) && bytes.Contains(head, []byte(`"openssl"`))) {
			return Format, true
		}
	}
	return "", false
}

type row struct {
	ID       string `json:"id"`
	IP       string `json:"ip"`
	Port     string `json:"port"`
	Severity string `json:"severity"`
	CVE      string `json:"cve"`
	CWE      string `json:"cwe"`
	Finding  string `json:"finding"`
	Hint     string `json:"hint"`
}

// Parse reads a whole report and calls emit with each observation. A
// flat report has no time: its observations have a zero ObservedAt and
// the import dates them (decision 59).
func Parse(ctx context.Context, r io.Reader, emit func(cloudsecurity.Observation) error) (Summary, error) {
	var s Summary
	b, err := scantext.ReadAll(r)
	if err != nil {
		return s, fmt.Errorf("testssl: %w", err)
	}
	b = scantext.TrimBOM(b)
	p := &parser{s: &s, emit: emit, targets: map[string]bool{}}
	switch scantext.FirstNonSpace(b) {
	case '[':
		s.Layout = "flat"
		var rows []row
		if err := strictDecode(b, &rows); err != nil {
			return s, err
		}
		for i, rw := range rows {
			if err := ctx.Err(); err != nil {
				return s, err
			}
			host, ip, _ := strings.Cut(rw.IP, "/")
			if err := p.row(fmt.Sprintf("row %d", i), host, ip, rw.Port, rw, time.Time{}); err != nil {
				return s, err
			}
		}
	case '{':
		s.Layout = "pretty"
		var rep struct {
			Version    string                       `json:"version"`
			StartTime  json.RawMessage              `json:"startTime"`
			ScanResult []map[string]json.RawMessage `json:"scanResult"`
		}
		if err := strictDecode(b, &rep); err != nil {
			return s, err
		}
		if rep.ScanResult == nil {
			return s, fmt.Errorf("testssl: %w: no scanResult", ErrMalformed)
		}
		s.ToolVersion = scantext.Line(strings.Fields(rep.Version + " ")[0], 100)
		if st := strings.Trim(string(rep.StartTime), `" `); st != "" && st != "null" {
			n, err := strconv.ParseInt(st, 10, 64)
			if err != nil {
				return s, fmt.Errorf("testssl: startTime %q: %w", st, ErrMalformed)
			}
			s.StartedAt = time.Unix(n, 0).UTC()
		}
		for ti, tr := range rep.ScanResult {
			host := str(tr["targetHost"])
			if host == "" {
				host = str(tr["target host"]) // 2.9dev
			}
			ip, port := str(tr["ip"]), str(tr["port"])
			keys := make([]string, 0, len(tr))
			for k := range tr {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, section := range keys {
				raw := bytes.TrimSpace(tr[section])
				if len(raw) == 0 || raw[0] != '[' {
					continue
				}
				var rows []row
				if err := json.Unmarshal(raw, &rows); err != nil {
					return s, fmt.Errorf("testssl: scanResult[%d].%s: %w: %v", ti, section, ErrMalformed, err)
				}
				for i, rw := range rows {
					if err := p.row(fmt.Sprintf("scanResult[%d].%s[%d]", ti, section, i), host, ip, port, rw, s.StartedAt); err != nil {
						return s, err
					}
				}
			}
		}
	default:
		return s, fmt.Errorf("testssl: %w: neither an array (flat) nor an object (pretty)", ErrMalformed)
	}
	return s, nil
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("testssl: %w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("testssl: %w: content after the report", ErrMalformed)
	}
	return nil
}

func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

type parser struct {
	s       *Summary
	emit    func(cloudsecurity.Observation) error
	targets map[string]bool
}

var certSuffix = regexp.MustCompile(`\s*<cert#(\d+)>\s*$`)

// meta rows say something of the run, not of the target.
var meta = map[string]bool{"scanTime": true, "engine_problem": false}

func (p *parser) row(where, host, ip, port string, rw row, at time.Time) error {
	id := strings.TrimSpace(rw.ID)
	if id == "" {
		return fmt.Errorf("testssl: %s: %w: no id", where, ErrMalformed)
	}
	host, ip, port = strings.ToLower(strings.TrimSpace(host)), strings.TrimSpace(ip), strings.TrimSpace(port)
	if host == "" {
		host = ip
	}
	target := scantext.JoinHostPort(host, port)
	sev := strings.ToUpper(strings.TrimSpace(rw.Severity))
	if sev == "WARN" || sev == "FATAL" {
		if len(p.s.Problems) < cloudsecurity.MaxScanProblems {
			p.s.Problems = append(p.s.Problems, cloudsecurity.ScanProblem{Target: target, Check: scantext.Line(id, 256), Level: sev, Message: scantext.Line(rw.Finding, 1000)})
		}
		return nil
	}
	if meta[id] || host == "" || port == "" {
		return nil // the scan's duration; a row of no target (testssl writes them for a run that reached none)
	}
	check, cert := id, ""
	if m := certSuffix.FindStringSubmatch(id); m != nil && len(id) > len(m[0]) { // "<cert#1>" alone stays the id
		check, cert = id[:len(id)-len(m[0])], "cert"+m[1]
	}
	resource := host + "/" + ip + ":" + port
	if cert != "" {
		resource += "#" + cert
	}
	var result cloudsecurity.Result
	var severity cloudsecurity.Severity
	switch sev {
	case "OK", "INFO":
		result = cloudsecurity.ResultPass // a CVE named on an OK row is not a finding
	case "LOW", "MEDIUM", "HIGH", "CRITICAL":
		result = cloudsecurity.ResultFail
		severity, _ = cloudsecurity.ParseSeverity(sev)
	default:
		return fmt.Errorf("testssl: %s: %w: severity %q", where, ErrMalformed, rw.Severity)
	}
	if check == "cert_notAfter" {
		if t, err := time.Parse("2006-01-02 15:04", strings.TrimSpace(rw.Finding)); err == nil {
			p.s.Certificates = append(p.s.Certificates, Certificate{Target: target, Cert: orDefault(cert, "cert1"), NotAfter: t.UTC()})
		}
	}
	var cats []string
	for _, c := range strings.Fields(rw.CVE + " " + rw.CWE) {
		if len(cats) < 32 {
			cats = append(cats, strings.ToUpper(scantext.Line(c, 100)))
		}
	}
	detail := scantext.Clean(strings.TrimSpace(rw.Finding), true)
	if h := strings.TrimSpace(rw.Hint); h != "" {
		detail += "\nhint: " + scantext.Clean(h, true)
	}
	if !p.targets[target] {
		p.targets[target] = true
		p.s.Targets = append(p.s.Targets, target)
	}
	p.s.Results++
	return p.emit(cloudsecurity.Observation{
		Tool: Tool, ToolVersion: p.s.ToolVersion, Provider: cloudsecurity.ProviderTLS,
		AccountUID: scantext.Line(target, 256), CheckID: scantext.Line(check, 256), CheckTitle: scantext.Line(check, 256),
		Severity: severity, Result: result, StatusDetail: scantext.Cut(detail, 4000),
		ResourceUID: scantext.Line(resource, 2048), ResourceName: scantext.Line(target, 2048), ResourceType: "tls-endpoint",
		Categories: cats, ObservedAt: at,
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
