package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// Limits of a report the parser reads.
const (
	MaxReportBytes = 8 << 20 // a probe's report is a few KiB
	MaxResults     = 10_000
)

// ErrBroken: the report is not a readable cspm-probe-json document; the
// import rejects it whole.
var ErrBroken = errors.New("cspm-probe-json")

var checkIDPattern = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// maxAccount bounds a normalized target, a cookie name and the tool
// version (an account id of the import: domain.MaxShortText).
const maxAccount = 256

// plainText: valid UTF-8 without control characters.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

// oneLine replaces control characters (a header value may hold a tab;
// the import keeps tags and details free of them) with spaces, and
// invalid UTF-8 with U+FFFD.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Summary is what a parse learnt of a whole report.
type Summary struct {
	Probe       string
	Target      string
	ToolVersion string
	Results     int // observations emitted
	NotChecked  int // results not checked (imported as nothing)
}

// Detect reports whether head (a report's first bytes) is a probe report:
// a JSON object naming the format.
func Detect(head []byte) bool {
	h := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(h) == 0 || h[0] != '{' {
		return false
	}
	return bytes.Contains(h, []byte(`"format"`)) && bytes.Contains(h, []byte(`"`+Format+`"`))
}

// Parse reads a whole report, checks it, then emits one observation per
// result (not_checked results emit nothing). Any error rejects the whole
// report: nothing is emitted from a report that does not check out.
func Parse(ctx context.Context, r io.Reader, emit func(cloudsecurity.Observation) error) (Summary, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return Summary{}, fmt.Errorf("%w: read: %w", ErrBroken, err)
	}
	if len(raw) > MaxReportBytes {
		return Summary{}, fmt.Errorf("%w: the report is larger than %d bytes", ErrBroken, MaxReportBytes)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	var rep Report
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&rep); err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrBroken, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Summary{}, fmt.Errorf("%w: data after the report's object", ErrBroken)
	}
	obs, sum, err := observations(rep)
	if err != nil {
		return Summary{}, err
	}
	for _, o := range obs {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if err := emit(o); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// observations checks a report and turns its results into observations.
func observations(rep Report) ([]cloudsecurity.Observation, Summary, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBroken, fmt.Sprintf(format, args...))
	}
	switch {
	case rep.Format != Format:
		return nil, Summary{}, bad("format: must be %q (got %q)", Format, rep.Format)
	case rep.Version != Version:
		return nil, Summary{}, bad("version: %d is not read (this parser reads version %d)", rep.Version, Version)
	case rep.StartedAt.IsZero():
		return nil, Summary{}, bad("started_at: is required")
	case len(rep.Results) > MaxResults:
		return nil, Summary{}, bad("results: at most %d (got %d)", MaxResults, len(rep.Results))
	}
	var provider, account string
	switch rep.Probe {
	case ProbeHeaders:
		u, err := NormalizeURL(rep.Target)
		if err != nil {
			return nil, Summary{}, bad("%v", err)
		}
		provider, account = "web", u
	case ProbeTLS:
		host, port, err := NormalizeHostPort(rep.Target)
		if err != nil {
			return nil, Summary{}, bad("%v", err)
		}
		provider, account = "tls", net.JoinHostPort(host, port)
	default:
		return nil, Summary{}, bad("probe: must be %q or %q (got %q)", ProbeHeaders, ProbeTLS, rep.Probe)
	}
	switch {
	case len(account) > maxAccount:
		return nil, Summary{}, bad("target: at most %d bytes once normalized (got %d)", maxAccount, len(account))
	case !plainText(account):
		return nil, Summary{}, bad("target: must not contain control characters")
	case len(rep.ToolVersion) > maxAccount || !plainText(rep.ToolVersion):
		return nil, Summary{}, bad("tool_version: at most %d bytes, no control characters", maxAccount)
	}
	sum := Summary{Probe: rep.Probe, Target: account, ToolVersion: rep.ToolVersion}
	at := rep.StartedAt.UTC()
	seen := map[[2]string]bool{}
	out := make([]cloudsecurity.Observation, 0, len(rep.Results))
	for i, res := range rep.Results {
		if !checkIDPattern.MatchString(res.Check) {
			return nil, Summary{}, bad("results[%d].check: must be 1 to 64 of a-z, 0-9 and _ (got %q)", i, res.Check)
		}
		if len(res.Cookie) > maxAccount || !plainText(res.Cookie) {
			return nil, Summary{}, bad("results[%d].cookie: at most %d bytes, no control characters", i, maxAccount)
		}
		k := [2]string{res.Check, res.Cookie}
		if seen[k] {
			return nil, Summary{}, bad("results[%d]: check %s (cookie %q) is reported twice", i, res.Check, res.Cookie)
		}
		seen[k] = true
		var result cloudsecurity.Result
		switch res.Result {
		case ResultPass:
			result = cloudsecurity.ResultPass
		case ResultFail:
			result = cloudsecurity.ResultFail
		case ResultNotChecked:
			sum.NotChecked++
			continue
		default:
			return nil, Summary{}, bad("results[%d].result: must be pass, fail or not_checked (got %q)", i, res.Result)
		}
		c, known := Checks[res.Check]
		if !known {
			c = Check{ID: res.Check, Title: res.Check}
		}
		sev := res.Severity
		if sev == "" {
			sev = c.Severity
		}
		var severity cloudsecurity.Severity
		if sev != "" {
			s, ok := cloudsecurity.ParseSeverity(sev)
			if !ok {
				return nil, Summary{}, bad("results[%d].severity: must be one of critical, high, medium, low, informational (got %q)", i, sev)
			}
			severity = s
		}
		resource, name, typ := account, account, "url"
		if provider == "tls" {
			typ = "endpoint"
		}
		if res.Cookie != "" {
			resource, name, typ = "cookie:"+res.Cookie, res.Cookie, "cookie"
		}
		tags := map[string]string{}
		if res.Evidence != "" {
			tags["evidence"] = clip(oneLine(res.Evidence), MaxEvidence)
		}
		if res.NotAfter != nil {
			tags["not_after"] = res.NotAfter.UTC().Format(time.RFC3339)
		}
		if len(tags) == 0 {
			tags = nil
		}
		var refs []string
		if c.Reference != "" {
			refs = []string{c.Reference}
		}
		out = append(out, cloudsecurity.Observation{
			Tool: Tool, ToolVersion: rep.ToolVersion, Provider: provider, AccountUID: account,
			CheckID: res.Check, CheckTitle: c.Title, Service: rep.Probe, Severity: severity,
			Result: result, StatusDetail: clip(oneLine(res.Detail), MaxEvidence),
			ResourceUID: resource, ResourceName: name, ResourceType: typ, ResourceTags: tags,
			Description: c.Description, Remediation: c.Remediation, References: refs,
			ObservedAt: at,
		})
	}
	sum.Results = len(out)
	return out, sum, nil
}
