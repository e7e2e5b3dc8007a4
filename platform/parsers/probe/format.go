package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Format is the report format's name, Version its current version.
const (
	Format  = "cspm-probe-json"
	Version = 1
	// Tool is the tool an imported probe report names (its identity
	// rule is cspm-probe/v1, domain/cloudsecurity).
	Tool = "cspm-probe"
)

// The probes.
const (
	ProbeHeaders = "headers" // security headers of an HTTP(S) target: provider "web"
	ProbeTLS     = "tls"     // TLS of a host:port: provider "tls"
)

// Results of a check. NotChecked is what a probe could not test (SSLv3:
// Go's TLS client cannot offer it): it is in the report, and imports as
// nothing (it evaluated nothing, so it fixes nothing).
const (
	ResultPass       = "pass"
	ResultFail       = "fail"
	ResultNotChecked = "not_checked"
)

// Report is one probe's report: the document a built-in tool writes.
type Report struct {
	Format      string    `json:"format"`  // "cspm-probe-json"
	Version     int       `json:"version"` // 1
	Probe       string    `json:"probe"`   // headers, tls
	ToolVersion string    `json:"tool_version,omitempty"`
	Target      string    `json:"target"` // normalized: a URL (headers) or host:port (tls)
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	// Headers probe: the responses followed (each redirect's URL and
	// status, in order), the final URL and its status; Truncated when
	// the redirect limit stopped it.
	Redirects  []Redirect `json:"redirects,omitempty"`
	FinalURL   string     `json:"final_url,omitempty"`
	StatusCode int        `json:"status_code,omitempty"`
	Truncated  bool       `json:"redirects_truncated,omitempty"`
	// TLS probe: the protocol versions offered ("TLS 1.2": true) and the
	// versions not checked (SSLv3), the weak suites the server accepted.
	Protocols   map[string]bool `json:"protocols,omitempty"`
	NotChecked  []string        `json:"not_checked,omitempty"`
	WeakCiphers []string        `json:"weak_ciphers,omitempty"`
	Results     []Result        `json:"results"`
}

// Redirect is one response the headers probe followed.
type Redirect struct {
	URL        string `json:"url"`
	StatusCode int    `json:"status_code"`
	Location   string `json:"location,omitempty"`
}

// Result is one check's outcome on the target (or on one cookie of it).
type Result struct {
	Check    string `json:"check"`
	Cookie   string `json:"cookie,omitempty"` // the cookie checks: the cookie's name
	Result   string `json:"result"`           // pass, fail, not_checked
	Severity string `json:"severity,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// Evidence is what was seen (a header's value), capped at MaxEvidence.
	Evidence string `json:"evidence,omitempty"`
	// NotAfter: the certificate checks carry the leaf's expiry, so that
	// an expiry can be told from the data and the clock.
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// MaxEvidence caps a result's evidence and detail (bytes, cut between
// characters).
const MaxEvidence = 1024

// Write writes r as a report (format and version filled in).
func Write(w io.Writer, r Report) error {
	r.Format, r.Version = Format, Version
	if r.Results == nil {
		r.Results = []Result{}
	}
	for i := range r.Results {
		r.Results[i].Evidence = clip(r.Results[i].Evidence, MaxEvidence)
		r.Results[i].Detail = clip(r.Results[i].Detail, MaxEvidence)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("probe report: %w", err)
	}
	return nil
}

// clip cuts s to at most max bytes, between characters.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// NormalizeURL is a headers target as reports name it: scheme and host
// lower case (https when none is given), the default port dropped, the
// path "/" when empty, no fragment. The same site always gives the same
// account, whatever way it was typed.
func NormalizeURL(target string) (string, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", fmt.Errorf("target: is required")
	}
	if !strings.Contains(t, "://") {
		t = "https://" + t
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", fmt.Errorf("target: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("target %q: the scheme must be http or https", target)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("target %q: names no host", target)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host = host
	if port != "" {
		u.Host += ":" + port
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment, u.RawFragment, u.User = "", "", nil
	return u.String(), nil
}

// NormalizeHostPort is a TLS target as reports name it: "host:port", the
// host lower case, port 443 when none is given; a URL gives its host and
// port (https's 443 by default).
func NormalizeHostPort(target string) (host, port string, err error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", "", fmt.Errorf("target: is required")
	}
	if strings.Contains(t, "://") {
		u, err := url.Parse(t)
		if err != nil {
			return "", "", fmt.Errorf("target: %w", err)
		}
		host, port = u.Hostname(), u.Port()
	} else if h, p, err := net.SplitHostPort(t); err == nil {
		host, port = h, p
	} else {
		host = strings.Trim(t, "[]")
	}
	if port == "" {
		port = "443"
	}
	host = strings.ToLower(host)
	if host == "" {
		return "", "", fmt.Errorf("target %q: names no host", target)
	}
	return host, port, nil
}
