// Package sslyze reads SSLyze 5's JSON output (`--json_out`): `{
// sslyze_version, date_scans_started, server_scan_results: [{
// server_location: {hostname, ip_address, port}, connectivity_status,
// scan_status, scan_result: {<command>: {status, result}}}]}`. SSLyze
// rates nothing: its results are booleans and enums, mapped to checks by
// the rules of Rules (decision 58, docs/security-scans.md). Each rule of a
// command that COMPLETED is one observation (pass or fail) of the server
// (provider "tls", account = hostname:port, resource = hostname/ip:port and
// "#cert<N>" for a certificate deployment's rules: identity rule
// sslyze/v1). A command NOT_SCHEDULED evaluates nothing; one in ERROR and
// a server that could not be reached are scan problems. Pure.
package sslyze

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/internal/scantext"
)

// Tool is the tool's name in observations.
const Tool = "sslyze"

// Format is SSLyze 5's JSON.
const Format = "sslyze-json"

// ErrMalformed: not an SSLyze 5 JSON report.
var ErrMalformed = errors.New("malformed sslyze report")

// Rules are the checks, with the severity of a failure and what fails.
var Rules = map[string]struct {
	Severity cloudsecurity.Severity
	Title    string
}{
	"heartbleed":               {cloudsecurity.SeverityCritical, "Vulnerable to Heartbleed (CVE-2014-0160)"},
	"ccs-injection":            {cloudsecurity.SeverityHigh, "Vulnerable to OpenSSL CCS injection (CVE-2014-0224)"},
	"robot":                    {cloudsecurity.SeverityHigh, "Vulnerable to ROBOT (strong oracle high, weak oracle medium)"},
	"client-renegotiation-dos": {cloudsecurity.SeverityMedium, "Client-initiated renegotiation allowed (DoS)"},
	"secure-renegotiation":     {cloudsecurity.SeverityMedium, "Secure renegotiation not supported"},
	"compression":              {cloudsecurity.SeverityMedium, "TLS compression supported (CRIME)"},
	"fallback-scsv":            {cloudsecurity.SeverityLow, "TLS_FALLBACK_SCSV not supported"},
	"early-data":               {cloudsecurity.SeverityLow, "TLS 1.3 early data (0-RTT) accepted"},
	"protocol-sslv2":           {cloudsecurity.SeverityCritical, "SSL 2.0 offered"},
	"protocol-sslv3":           {cloudsecurity.SeverityHigh, "SSL 3.0 offered"},
	"protocol-tls1.0":          {cloudsecurity.SeverityMedium, "TLS 1.0 offered (deprecated)"},
	"protocol-tls1.1":          {cloudsecurity.SeverityMedium, "TLS 1.1 offered (deprecated)"},
	"weak-cipher-suites":       {cloudsecurity.SeverityHigh, "Weak cipher suites accepted (NULL, EXPORT, anonymous, RC4, DES: high; 3DES: medium)"},
	"cert-trusted":             {cloudsecurity.SeverityHigh, "Certificate chain not trusted (Mozilla store)"},
	"cert-hostname-match":      {cloudsecurity.SeverityHigh, "Certificate does not match the host name"},
	"cert-expired":             {cloudsecurity.SeverityHigh, "Certificate expired at scan time"},
	"cert-not-yet-valid":       {cloudsecurity.SeverityHigh, "Certificate not yet valid at scan time"},
	"cert-sha1-signature":      {cloudsecurity.SeverityMedium, "Certificate chain signed with SHA-1"},
	"cert-chain-order":         {cloudsecurity.SeverityLow, "Certificate chain sent out of order"},
	"cert-legacy-symantec":     {cloudsecurity.SeverityMedium, "Certificate chain anchored in a distrusted legacy Symantec root"},
}

// Certificate is a deployment's leaf certificate, for the clock to judge
// later (decision 60).
type Certificate struct {
	Target            string
	Cert              string // "cert1": the deployment
	Subject           string
	NotBefore         time.Time
	NotAfter          time.Time
	FingerprintSHA256 string // hex (SSLyze writes base64)
}

// Summary is what a parse learnt of a report.
type Summary struct {
	ToolVersion  string
	StartedAt    time.Time
	Targets      []string
	Results      int
	Problems     []cloudsecurity.ScanProblem
	Certificates []Certificate
}

// Detect names the format from a report's first bytes.
func Detect(head []byte) (string, bool) {
	if scantext.FirstNonSpace(head) == '{' && bytes.Contains(head, []byte(`"server_scan_results"`)) {
		return Format, true
	}
	if scantext.FirstNonSpace(head) == '{' && bytes.Contains(head, []byte(`"sslyze_version"`)) {
		return Format, true
	}
	return "", false
}

type report struct {
	Version  string         `json:"sslyze_version"`
	Started  string         `json:"date_scans_started"`
	Servers  []serverResult `json:"server_scan_results"`
	Invalids []struct {
		ServerString string `json:"server_string"`
		Error        string `json:"error_message"`
	} `json:"invalid_server_strings"`
}

type serverResult struct {
	Location struct {
		Hostname string `json:"hostname"`
		IP       string `json:"ip_address"`
		Port     int    `json:"port"`
	} `json:"server_location"`
	ConnectivityStatus string                     `json:"connectivity_status"`
	ConnectivityError  string                     `json:"connectivity_error_trace"`
	ScanStatus         string                     `json:"scan_status"`
	ScanResult         map[string]json.RawMessage `json:"scan_result"`
}

type command struct {
	Status      string          `json:"status"`
	ErrorReason string          `json:"error_reason"`
	Result      json.RawMessage `json:"result"`
}

// naive reads SSLyze's zone-less times as UTC.
func naive(s string) (time.Time, error) {
	return time.Parse("2006-01-02T15:04:05.999999", strings.TrimSpace(s))
}

// Parse reads a whole report and calls emit with each observation.
func Parse(ctx context.Context, r io.Reader, emit func(cloudsecurity.Observation) error) (Summary, error) {
	var s Summary
	b, err := scantext.ReadAll(r)
	if err != nil {
		return s, fmt.Errorf("sslyze: %w", err)
	}
	var rep report
	dec := json.NewDecoder(bytes.NewReader(scantext.TrimBOM(b)))
	if err := dec.Decode(&rep); err != nil {
		return s, fmt.Errorf("sslyze: %w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return s, fmt.Errorf("sslyze: %w: content after the report", ErrMalformed)
	}
	if rep.Servers == nil {
		return s, fmt.Errorf("sslyze: %w: no server_scan_results", ErrMalformed)
	}
	s.ToolVersion = scantext.Line(rep.Version, 100)
	if !strings.HasPrefix(s.ToolVersion, "5.") && !strings.HasPrefix(s.ToolVersion, "6.") {
		return s, fmt.Errorf("sslyze: %w: version %q (SSLyze 5's JSON is read)", ErrMalformed, rep.Version)
	}
	if s.StartedAt, err = naive(rep.Started); err != nil {
		return s, fmt.Errorf("sslyze: date_scans_started %q: %w", rep.Started, ErrMalformed)
	}
	for _, inv := range rep.Invalids {
		s.problem(cloudsecurity.ScanProblem{Target: scantext.Line(inv.ServerString, 256), Level: "INVALID", Message: scantext.Line(inv.Error, 1000)})
	}
	for i, srv := range rep.Servers {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		if err := s.server(i, srv, emit); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *Summary) problem(p cloudsecurity.ScanProblem) {
	if len(s.Problems) < cloudsecurity.MaxScanProblems {
		s.Problems = append(s.Problems, p)
	}
}

func (s *Summary) server(i int, srv serverResult, emit func(cloudsecurity.Observation) error) error {
	loc := srv.Location
	host := strings.ToLower(strings.TrimSpace(loc.Hostname))
	if host == "" {
		host = loc.IP
	}
	if host == "" || loc.Port <= 0 {
		return fmt.Errorf("sslyze: server_scan_results[%d]: %w: no server_location", i, ErrMalformed)
	}
	port := strconv.Itoa(loc.Port)
	target := scantext.JoinHostPort(host, port)
	if srv.ConnectivityStatus != "COMPLETED" || srv.ScanStatus != "COMPLETED" {
		s.problem(cloudsecurity.ScanProblem{Target: target, Level: "ERROR", Message: scantext.Line(fmt.Sprintf("connectivity %s, scan %s: %s", srv.ConnectivityStatus, srv.ScanStatus, lastLine(srv.ConnectivityError)), 1000)})
		return nil // an unreachable server evaluated nothing
	}
	resource := host + "/" + loc.IP + ":" + port
	s.Targets = append(s.Targets, target)
	emitRule := func(check, res string, fail bool, sev cloudsecurity.Severity, detail string) error {
		rule := Rules[check]
		o := cloudsecurity.Observation{
			Tool: Tool, ToolVersion: s.ToolVersion, Provider: cloudsecurity.ProviderTLS,
			AccountUID: target, CheckID: check, CheckTitle: rule.Title,
			Result: cloudsecurity.ResultPass, StatusDetail: scantext.Cut(scantext.Clean(detail, true), 4000),
			ResourceUID: res, ResourceName: target, ResourceType: "tls-endpoint", ObservedAt: s.StartedAt,
		}
		if fail {
			o.Result, o.Severity = cloudsecurity.ResultFail, orSev(sev, rule.Severity)
		}
		s.Results++
		return emit(o)
	}
	names := make([]string, 0, len(srv.ScanResult))
	for k := range srv.ScanResult {
		names = append(names, k)
	}
	sort.Strings(names)
	var accepted []suite
	ciphersRan := false
	for _, name := range names {
		var c command
		if err := json.Unmarshal(srv.ScanResult[name], &c); err != nil {
			return fmt.Errorf("sslyze: server_scan_results[%d].scan_result.%s: %w: %v", i, name, ErrMalformed, err)
		}
		switch c.Status {
		case "NOT_SCHEDULED":
			continue // not evaluated: says nothing
		case "ERROR":
			s.problem(cloudsecurity.ScanProblem{Target: target, Check: name, Level: "ERROR", Message: scantext.Line(orDefault(c.ErrorReason, "the command failed"), 1000)})
			continue
		case "COMPLETED":
		default:
			return fmt.Errorf("sslyze: server_scan_results[%d].scan_result.%s: %w: status %q", i, name, ErrMalformed, c.Status)
		}
		var res map[string]json.RawMessage
		if err := json.Unmarshal(c.Result, &res); err != nil || res == nil {
			return fmt.Errorf("sslyze: server_scan_results[%d].scan_result.%s: %w: no result", i, name, ErrMalformed)
		}
		where := fmt.Sprintf("server_scan_results[%d].scan_result.%s", i, name)
		var err error
		switch name {
		case "heartbleed":
			err = boolRule(res, "is_vulnerable_to_heartbleed", true, func(v bool) error {
				return emitRule("heartbleed", resource, v, "", fmt.Sprintf("is_vulnerable_to_heartbleed: %v", v))
			})
		case "openssl_ccs_injection":
			err = boolRule(res, "is_vulnerable_to_ccs_injection", true, func(v bool) error {
				return emitRule("ccs-injection", resource, v, "", fmt.Sprintf("is_vulnerable_to_ccs_injection: %v", v))
			})
		case "robot":
			var rr string
			if json.Unmarshal(res["robot_result"], &rr) != nil || rr == "" {
				return fmt.Errorf("sslyze: %s: %w: robot_result", where, ErrMalformed)
			}
			switch {
			case strings.HasPrefix(rr, "VULNERABLE_STRONG"):
				err = emitRule("robot", resource, true, cloudsecurity.SeverityHigh, rr)
			case strings.HasPrefix(rr, "VULNERABLE_WEAK"):
				err = emitRule("robot", resource, true, cloudsecurity.SeverityMedium, rr)
			case strings.HasPrefix(rr, "NOT_VULNERABLE"):
				err = emitRule("robot", resource, false, "", rr)
			default: // UNKNOWN_INCONSISTENT_RESULTS: the test could not conclude
				s.problem(cloudsecurity.ScanProblem{Target: target, Check: "robot", Level: "INCONCLUSIVE", Message: rr})
			}
		case "session_renegotiation":
			err = boolRule(res, "is_vulnerable_to_client_renegotiation_dos", true, func(v bool) error {
				return emitRule("client-renegotiation-dos", resource, v, "", fmt.Sprintf("is_vulnerable_to_client_renegotiation_dos: %v", v))
			})
			if err == nil {
				err = boolRule(res, "supports_secure_renegotiation", true, func(v bool) error {
					return emitRule("secure-renegotiation", resource, !v, "", fmt.Sprintf("supports_secure_renegotiation: %v", v))
				})
			}
		case "tls_compression":
			err = boolRule(res, "supports_compression", true, func(v bool) error {
				return emitRule("compression", resource, v, "", fmt.Sprintf("supports_compression: %v", v))
			})
		case "tls_fallback_scsv":
			err = boolRule(res, "supports_fallback_scsv", true, func(v bool) error {
				return emitRule("fallback-scsv", resource, !v, "", fmt.Sprintf("supports_fallback_scsv: %v", v))
			})
		case "tls_1_3_early_data":
			err = boolRule(res, "supports_early_data", true, func(v bool) error {
				return emitRule("early-data", resource, v, "", fmt.Sprintf("supports_early_data: %v", v))
			})
		case "ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites", "tls_1_2_cipher_suites", "tls_1_3_cipher_suites":
			ciphersRan = true
			var cs struct {
				Accepted []suite `json:"accepted_cipher_suites"`
			}
			if e := json.Unmarshal(c.Result, &cs); e != nil {
				return fmt.Errorf("sslyze: %s: %w: %v", where, ErrMalformed, e)
			}
			accepted = append(accepted, cs.Accepted...)
			check := map[string]string{"ssl_2_0_cipher_suites": "protocol-sslv2", "ssl_3_0_cipher_suites": "protocol-sslv3", "tls_1_0_cipher_suites": "protocol-tls1.0", "tls_1_1_cipher_suites": "protocol-tls1.1"}[name]
			if check != "" {
				offered := len(cs.Accepted) > 0
				var supported bool
				if json.Unmarshal(res["is_tls_version_supported"], &supported) == nil {
					offered = offered || supported
				}
				err = emitRule(check, resource, offered, "", fmt.Sprintf("%d cipher suites accepted", len(cs.Accepted)))
			}
		case "certificate_info":
			err = s.certificates(where, target, resource, res, emitRule)
		}
		if err != nil {
			return err
		}
	}
	if ciphersRan {
		fail, sev, detail := weakSuites(accepted)
		if err := emitRule("weak-cipher-suites", resource, fail, sev, detail); err != nil {
			return err
		}
	}
	return nil
}

type suite struct {
	Suite struct {
		Name        string `json:"name"`
		OpenSSLName string `json:"openssl_name"`
		KeySize     int    `json:"key_size"`
		Anonymous   bool   `json:"is_anonymous"`
	} `json:"cipher_suite"`
}

func weakSuites(accepted []suite) (bool, cloudsecurity.Severity, string) {
	var high, medium []string
	seen := map[string]bool{}
	for _, a := range accepted {
		n := a.Suite.Name
		if seen[n] {
			continue
		}
		seen[n] = true
		u := strings.ToUpper(n)
		switch {
		case a.Suite.Anonymous, strings.Contains(u, "_NULL_"), strings.Contains(u, "EXPORT"), strings.Contains(u, "_RC4_"),
			strings.Contains(u, "_DES_") || strings.Contains(u, "DES40") || strings.HasSuffix(u, "_WITH_DES_CBC_SHA"),
			a.Suite.KeySize > 0 && a.Suite.KeySize < 112:
			high = append(high, n)
		case strings.Contains(u, "3DES"):
			medium = append(medium, n)
		}
	}
	switch {
	case len(high) > 0:
		return true, cloudsecurity.SeverityHigh, scantext.Line("weak: "+strings.Join(append(high, medium...), ", "), 4000)
	case len(medium) > 0:
		return true, cloudsecurity.SeverityMedium, scantext.Line("3DES (SWEET32): "+strings.Join(medium, ", "), 4000)
	}
	return false, "", fmt.Sprintf("%d distinct accepted suites, none weak", len(seen))
}

func (s *Summary) certificates(where, target, resource string, res map[string]json.RawMessage, emitRule func(check, res string, fail bool, sev cloudsecurity.Severity, detail string) error) error {
	var deps []struct {
		Chain []struct {
			NotBefore   string `json:"not_valid_before"`
			NotAfter    string `json:"not_valid_after"`
			Fingerprint string `json:"fingerprint_sha256"`
			Subject     struct {
				RFC4514 string `json:"rfc4514_string"`
			} `json:"subject"`
		} `json:"received_certificate_chain"`
		Matches     *bool `json:"leaf_certificate_subject_matches_hostname"`
		ValidOrder  *bool `json:"received_chain_has_valid_order"`
		SHA1        *bool `json:"verified_chain_has_sha1_signature"`
		Symantec    *bool `json:"verified_chain_has_legacy_symantec_anchor"`
		Validations []struct {
			Store struct {
				Name string `json:"name"`
			} `json:"trust_store"`
			OK    bool   `json:"was_validation_successful"`
			Error string `json:"openssl_error_string"`
		} `json:"path_validation_results"`
	}
	if err := json.Unmarshal(res["certificate_deployments"], &deps); err != nil {
		return fmt.Errorf("sslyze: %s: %w: certificate_deployments: %v", where, ErrMalformed, err)
	}
	for d, dep := range deps {
		cert := "cert" + strconv.Itoa(d+1)
		r := resource + "#" + cert
		if len(dep.Chain) == 0 {
			return fmt.Errorf("sslyze: %s: %w: deployment %d has no certificate", where, ErrMalformed, d)
		}
		leaf := dep.Chain[0]
		nb, err1 := naive(leaf.NotBefore)
		na, err2 := naive(leaf.NotAfter)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("sslyze: %s: %w: deployment %d: validity dates", where, ErrMalformed, d)
		}
		fp := ""
		if raw, err := base64.StdEncoding.DecodeString(leaf.Fingerprint); err == nil {
			fp = hex.EncodeToString(raw)
		}
		s.Certificates = append(s.Certificates, Certificate{Target: target, Cert: cert, Subject: scantext.Line(leaf.Subject.RFC4514, 1000), NotBefore: nb, NotAfter: na, FingerprintSHA256: fp})
		steps := []struct {
			check  string
			known  bool
			fail   bool
			detail string
		}{
			{"cert-expired", true, !s.StartedAt.Before(na), "not_valid_after " + na.Format(time.RFC3339)},
			{"cert-not-yet-valid", true, s.StartedAt.Before(nb), "not_valid_before " + nb.Format(time.RFC3339)},
			{"cert-hostname-match", dep.Matches != nil, dep.Matches != nil && !*dep.Matches, "leaf_certificate_subject_matches_hostname"},
			{"cert-chain-order", dep.ValidOrder != nil, dep.ValidOrder != nil && !*dep.ValidOrder, "received_chain_has_valid_order"},
			{"cert-sha1-signature", dep.SHA1 != nil, dep.SHA1 != nil && *dep.SHA1, "verified_chain_has_sha1_signature"},
			{"cert-legacy-symantec", dep.Symantec != nil, dep.Symantec != nil && *dep.Symantec, "verified_chain_has_legacy_symantec_anchor"},
		}
		if len(dep.Validations) > 0 {
			trusted, detail := false, ""
			mozilla := false
			for _, v := range dep.Validations {
				if v.Store.Name == "Mozilla" {
					mozilla, trusted, detail = true, v.OK, "Mozilla: "+orDefault(v.Error, "valid")
				}
			}
			if !mozilla { // no Mozilla store: trusted by any
				for _, v := range dep.Validations {
					trusted = trusted || v.OK
				}
				detail = fmt.Sprintf("%d trust stores", len(dep.Validations))
			}
			steps = append(steps, struct {
				check  string
				known  bool
				fail   bool
				detail string
			}{"cert-trusted", true, !trusted, detail})
		}
		for _, st := range steps {
			if !st.known {
				continue
			}
			if err := emitRule(st.check, r, st.fail, "", st.detail); err != nil {
				return err
			}
		}
	}
	return nil
}

func boolRule(res map[string]json.RawMessage, key string, required bool, fn func(bool) error) error {
	var v *bool
	if err := json.Unmarshal(res[key], &v); err != nil || v == nil {
		if !required {
			return nil
		}
		return fmt.Errorf("sslyze: %w: %s missing", ErrMalformed, key)
	}
	return fn(*v)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func orSev(a, b cloudsecurity.Severity) cloudsecurity.Severity {
	if a != "" {
		return a
	}
	return b
}
