// Package nuclei reads Nuclei's JSON output (the anti-corruption layer for
// Nuclei): the JSONL of `-jsonl` / `-json` (one result per line) in its
// three key generations (v2.3 camelCase `templateID`/`matched`/
// `matcher_name`, v2.6+ hyphenated `template-id`/`matched-at`/
// `matcher-name`, v3 with `port`, `scheme`, `url`, `path`), and v3's
// `-json-export` array. Each result becomes one failing
// cloudsecurity.Observation (provider "web", account = the target host,
// check = template id and matcher, resource = the normalised matched-at:
// identity rule nuclei/v1, docs/security-scans.md). Pure: it reads the
// stream it is given and calls back.
package nuclei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/internal/scantext"
)

// Tool is the tool's name in observations.
const Tool = "nuclei"

// Formats.
const (
	FormatJSONL = "nuclei-jsonl" // one result per line (-jsonl, v2's -json)
	FormatJSON  = "nuclei-json"  // a JSON array (v3 -json-export)
)

// ErrMalformed: a line or element that is not a Nuclei result.
var ErrMalformed = errors.New("malformed nuclei result")

// Summary is what a parse learnt of a report.
type Summary struct {
	Format  string
	Results int // observations emitted
	// Unmatched counts results with matcher-status false (-ms): not findings.
	Unmatched int
	Problems  []cloudsecurity.ScanProblem
	Targets   []string // distinct target hosts, in order of appearance
}

// Detect names the format of a report from its first bytes: a JSON object
// or array naming a template id and info.
func Detect(head []byte) (string, bool) {
	if !bytes.Contains(head, []byte(`"template-id"`)) && !bytes.Contains(head, []byte(`"templateID"`)) {
		return "", false
	}
	if !bytes.Contains(head, []byte(`"info"`)) {
		return "", false
	}
	switch scantext.FirstNonSpace(head) {
	case '{':
		return FormatJSONL, true
	case '[':
		return FormatJSON, true
	}
	return "", false
}

// Parse reads a report in format and calls emit with each finding.
func Parse(ctx context.Context, r io.Reader, format string, emit func(cloudsecurity.Observation) error) (Summary, error) {
	s := Summary{Format: format}
	seen := map[string]bool{}
	one := func(where string, raw []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var res result
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("nuclei: %s: %w: %v", where, ErrMalformed, err)
		}
		o, ok, err := res.observation(&s)
		if err != nil {
			return fmt.Errorf("nuclei: %s: %w", where, err)
		}
		if !ok {
			return nil
		}
		if !seen[o.AccountUID] {
			seen[o.AccountUID] = true
			s.Targets = append(s.Targets, o.AccountUID)
		}
		s.Results++
		return emit(o)
	}
	switch format {
	case FormatJSONL:
		err := scantext.Lines(r, func(n int, line []byte) error {
			line = scantext.TrimBOM(line)
			if scantext.FirstNonSpace(line) != '{' {
				return fmt.Errorf("nuclei: line %d: %w: not a JSON object", n, ErrMalformed)
			}
			return one(fmt.Sprintf("line %d", n), line)
		})
		return s, err
	case FormatJSON:
		dec := json.NewDecoder(io.LimitReader(r, scantext.MaxReportBytes))
		tok, err := dec.Token()
		if err != nil {
			return s, fmt.Errorf("nuclei: %w: %v", ErrMalformed, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return s, fmt.Errorf("nuclei: %w: a -json-export report is an array", ErrMalformed)
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return s, fmt.Errorf("nuclei: element %d: %w: %v", i, ErrMalformed, err)
			}
			if err := one(fmt.Sprintf("element %d", i), raw); err != nil {
				return s, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return s, fmt.Errorf("nuclei: %w: the array is not closed: %v", ErrMalformed, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return s, fmt.Errorf("nuclei: %w: content after the array", ErrMalformed)
		}
		return s, nil
	}
	return s, fmt.Errorf("nuclei: unknown format %q", format)
}

// result is a Nuclei result line, every key generation's fields.
type result struct {
	TemplateID     string     `json:"template-id"`
	TemplateIDOld  string     `json:"templateID"`
	Info           info       `json:"info"`
	MatcherName    string     `json:"matcher-name"`
	MatcherNameOld string     `json:"matcher_name"`
	Type           string     `json:"type"`
	Host           string     `json:"host"`
	Port           flexString `json:"port"`
	Scheme         string     `json:"scheme"`
	URL            string     `json:"url"`
	MatchedAt      string     `json:"matched-at"`
	Matched        string     `json:"matched"`
	Extracted      flexList   `json:"extracted-results"`
	ExtractedOld   flexList   `json:"extracted_results"`
	IP             string     `json:"ip"`
	Timestamp      string     `json:"timestamp"`
	Request        string     `json:"request"`
	Response       string     `json:"response"`
	MatcherStatus  *bool      `json:"matcher-status"`
	// curl-command is never read: a command is not kept (decision 58).
}

type info struct {
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Remediation    string          `json:"remediation"`
	Severity       string          `json:"severity"`
	Tags           flexList        `json:"tags"`
	Reference      flexList        `json:"reference"`
	Classification *classification `json:"classification"`
}

type classification struct {
	CVE flexList `json:"cve-id"`
	CWE flexList `json:"cwe-id"`
}

func (res result) observation(s *Summary) (cloudsecurity.Observation, bool, error) {
	tmpl := firstOf(res.TemplateID, res.TemplateIDOld)
	if tmpl == "" {
		return cloudsecurity.Observation{}, false, fmt.Errorf("%w: no template-id", ErrMalformed)
	}
	if res.MatcherStatus != nil && !*res.MatcherStatus {
		s.Unmatched++
		return cloudsecurity.Observation{}, false, nil
	}
	matcher := firstOf(res.MatcherName, res.MatcherNameOld)
	check := tmpl
	if matcher != "" {
		check += ":" + matcher
	}
	target, resource := res.where()
	if target == "" {
		p := cloudsecurity.ScanProblem{Check: check, Message: "the result names no target (no host, matched-at, url or ip): skipped"}
		if len(s.Problems) < cloudsecurity.MaxScanProblems {
			s.Problems = append(s.Problems, p)
		}
		return cloudsecurity.Observation{}, false, nil
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(res.Timestamp))
	if err != nil {
		return cloudsecurity.Observation{}, false, fmt.Errorf("%w: timestamp %q: %v", ErrMalformed, res.Timestamp, err)
	}
	sev, err := severity(res.Info.Severity)
	if err != nil {
		return cloudsecurity.Observation{}, false, err
	}
	title := scantext.Line(res.Info.Name, 900)
	if matcher != "" {
		title += " (" + scantext.Line(matcher, 100) + ")"
	}
	var cats []string
	for _, t := range res.Info.Tags {
		if len(cats) < 24 {
			cats = append(cats, scantext.Line(t, 200))
		}
	}
	if c := res.Info.Classification; c != nil {
		for _, id := range append(c.CVE, c.CWE...) {
			if len(cats) < 32 {
				cats = append(cats, strings.ToUpper(scantext.Line(id, 200)))
			}
		}
	}
	var refs []string
	for _, ref := range res.Info.Reference {
		ref = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(ref), "- "))
		if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") && len(ref) <= 2048 && len(refs) < 32 {
			refs = append(refs, scantext.Line(ref, 2048))
		}
	}
	return cloudsecurity.Observation{
		Tool: Tool, Provider: cloudsecurity.ProviderWeb,
		AccountUID: scantext.Line(target, 256), Region: "",
		CheckID: scantext.Line(check, 256), CheckTitle: title, Service: scantext.Line(res.Type, 256),
		Severity: sev, Result: cloudsecurity.ResultFail,
		StatusDetail: res.detail(),
		ResourceUID:  scantext.Line(resource, 2048),
		ResourceName: scantext.Line(firstOf(res.MatchedAt, res.Matched, resource), 2048),
		ResourceType: scantext.Line(res.Type, 256),
		Description:  scantext.Cut(scantext.Clean(res.Info.Description, true), 32_000),
		Remediation:  scantext.Cut(scantext.Clean(res.Info.Remediation, true), 32_000),
		References:   refs, Categories: cats,
		ObservedAt: at.UTC(),
	}, true, nil
}

// where is the result's target host and its resource (the normalised
// matched-at), falling back as the key generations require: matched-at
// (or matched), then host, then url (v3's url may be "/http://..."), then
// ip:port.
func (res result) where() (target, resource string) {
	url := strings.TrimSpace(res.URL)
	if strings.HasPrefix(url, "/") && strings.Contains(url, "://") {
		url = url[1:] // Nuclei 3 writes "/http://host/"
	}
	ipPort := ""
	if res.IP != "" {
		ipPort = scantext.JoinHostPort(res.IP, string(res.Port))
	}
	for _, c := range []string{res.MatchedAt, res.Matched, res.Host, url, ipPort} {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if resource == "" {
			resource = normalise(c)
		}
		if target == "" {
			target = scantext.HostOf(firstOf(res.Host, c))
		}
	}
	if target == "" {
		target = scantext.HostOf(res.IP)
	}
	return target, resource
}

// normalise is matched-at as the identity keeps it.
func normalise(s string) string {
	if u, ok := scantext.URL(s); ok {
		return u
	}
	if hp, ok := scantext.HostPort(s); ok {
		return hp
	}
	return strings.ToLower(s)
}

func (res result) detail() string {
	var b strings.Builder
	if m := firstOf(res.MatchedAt, res.Matched); m != "" {
		b.WriteString("matched at " + scantext.Line(m, 512))
	}
	ex := res.Extracted
	if len(ex) == 0 {
		ex = res.ExtractedOld
	}
	if len(ex) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("extracted: " + scantext.Line(strings.Join(ex, ", "), 512))
	}
	if res.Request != "" {
		b.WriteString("\n\nrequest (first 1 KiB, as text):\n" + scantext.Raw(res.Request))
	}
	if res.Response != "" {
		b.WriteString("\n\nresponse (first 1 KiB, as text):\n" + scantext.Raw(res.Response))
	}
	return scantext.Cut(b.String(), 4000)
}

func severity(s string) (cloudsecurity.Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "unknown":
		return "", nil
	case "info":
		return cloudsecurity.SeverityInformational, nil
	}
	sev, ok := cloudsecurity.ParseSeverity(s)
	if !ok {
		return "", fmt.Errorf("%w: unknown severity %q", ErrMalformed, s)
	}
	return sev, nil
}

func firstOf(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}

// flexString is a string or a number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// flexList is an array of strings, or one string of comma- or
// newline-separated items (Nuclei 2.3's author, tags, reference).
type flexList []string

func (f *flexList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nil
		return nil
	}
	var xs []string
	if err := json.Unmarshal(b, &xs); err == nil {
		*f = xs
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		p = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p), "- "))
		if p != "" {
			out = append(out, p)
		}
	}
	*f = out
	return nil
}
