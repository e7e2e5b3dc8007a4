// Package headers probes the security headers of an HTTP(S) target: it
// fetches the target (following redirects to a limit, each recorded),
// reads the final response's headers (and the cookies of every response
// on the way) and reports one result per check, pass or fail, in the
// cspm-probe-json format (platform/parsers/probe, docs/probes.md).
//
// Bounded: one deadline for the whole probe, a redirect limit, and the
// body read to a cap at most (then dropped: only headers are judged).
package headers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/platform/parsers/probe"
)

// Defaults of Options.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultMaxRedirects = 5
	DefaultMaxBody      = 64 << 10
	// DefaultHSTSMinAge is the least HSTS max-age that passes: 180 days
	// (the HSTS preload list asks for a year; 180 days is the common
	// scanners' floor).
	DefaultHSTSMinAge = 180 * 24 * time.Hour
)

// Options tune the probe; the zero value uses the defaults.
type Options struct {
	Timeout      time.Duration // the whole probe, redirects included
	MaxRedirects int           // redirects followed at most; more is recorded as truncated
	MaxBody      int64         // bytes of a body read at most (then dropped)
	HSTSMinAge   time.Duration
	UserAgent    string
	// RootCAs verifies the target's certificate when VerifyTLS is set.
	// By default certificates are not verified: the headers are judged
	// whatever the certificate (the TLS probe judges the certificate).
	VerifyTLS bool
	RootCAs   *x509.CertPool
	Now       func() time.Time
	// ToolVersion is written in the report.
	ToolVersion string
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.HSTSMinAge <= 0 {
		o.HSTSMinAge = DefaultHSTSMinAge
	}
	if o.UserAgent == "" {
		o.UserAgent = "cspm-probe/1"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrUnreachable: no response was had from the target (a scan problem:
// the report is not written, and nothing is fixed).
var ErrUnreachable = errors.New("headers probe: target unreachable")

// Probe fetches target and judges its headers.
func Probe(ctx context.Context, target string, opts Options) (probe.Report, error) {
	opts = opts.withDefaults()
	start, err := probe.NormalizeURL(target)
	if err != nil {
		return probe.Report{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	rep := probe.Report{Probe: probe.ProbeHeaders, ToolVersion: opts.ToolVersion, Target: start, StartedAt: opts.Now().UTC()}

	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: !opts.VerifyTLS, RootCAs: opts.RootCAs}, //nolint:gosec // decision 64: headers are judged whatever the certificate
		TLSHandshakeTimeout:    opts.Timeout,
		MaxResponseHeaderBytes: 1 << 20,
		DisableCompression:     true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cookies := map[string]*http.Cookie{}
	cur := start
	var final *http.Response
	for hop := 0; ; hop++ {
		resp, err := get(ctx, client, cur, opts)
		if err != nil {
			return probe.Report{}, fmt.Errorf("%w: %s: %w", ErrUnreachable, cur, err)
		}
		for _, c := range resp.Cookies() {
			cookies[c.Name] = c
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			final = resp
			break
		}
		next, err := resolve(cur, loc)
		rep.Redirects = append(rep.Redirects, probe.Redirect{URL: cur, StatusCode: resp.StatusCode, Location: clip(loc)})
		if err != nil || hop+1 > opts.MaxRedirects {
			// An unfollowable Location, or the limit: judge this response.
			rep.Truncated = err == nil
			final = resp
			break
		}
		cur = next
	}
	rep.FinalURL, rep.StatusCode = cur, final.StatusCode
	u, _ := url.Parse(cur)
	rep.Results = judge(final.Header, u.Scheme == "https", sortedCookies(cookies), opts)
	rep.FinishedAt = opts.Now().UTC()
	return rep, nil
}

// get fetches u, reads its body to the cap at most, and closes it.
func get(ctx context.Context, client *http.Client, u string, opts Options) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", opts.UserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, opts.MaxBody))
	_ = resp.Body.Close()
	return resp, nil
}

func resolve(base, loc string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	l, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	next := b.ResolveReference(l)
	if next.Scheme != "http" && next.Scheme != "https" {
		return "", fmt.Errorf("redirect to %q: not http(s)", next.Scheme)
	}
	return next.String(), nil
}

func sortedCookies(m map[string]*http.Cookie) []*http.Cookie {
	out := make([]*http.Cookie, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// clip cuts s to MaxEvidence bytes, between characters.
func clip(s string) string {
	if len(s) <= probe.MaxEvidence {
		return s
	}
	cut := probe.MaxEvidence
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func pass(check, detail, evidence string) probe.Result {
	return probe.Result{Check: check, Result: probe.ResultPass, Detail: detail, Evidence: evidence}
}

func fail(check, severity, detail, evidence string) probe.Result {
	return probe.Result{Check: check, Result: probe.ResultFail, Severity: severity, Detail: detail, Evidence: evidence}
}

// judge makes the results of the checks on a final response's headers
// (and the cookies of the responses followed), in a fixed order.
func judge(h http.Header, https bool, cookies []*http.Cookie, opts Options) []probe.Result {
	csp := strings.Join(h.Values("Content-Security-Policy"), "; ")
	out := []probe.Result{
		hsts(h.Get("Strict-Transport-Security"), https, opts.HSTSMinAge),
		cspCheck(csp),
		frameOptions(h.Get("X-Frame-Options"), csp),
		contentTypeOptions(h.Get("X-Content-Type-Options")),
		referrerPolicy(h.Values("Referrer-Policy")),
		permissionsPolicy(h.Get("Permissions-Policy")),
	}
	out = append(out, cookieChecks(cookies)...)
	out = append(out, serverBanner(h.Get("Server")), poweredBy(h.Get("X-Powered-By")))
	return out
}

func hsts(v string, https bool, minAge time.Duration) probe.Result {
	c := probe.CheckHSTS
	if !https {
		return fail(c, "medium", "the final response was served over plain HTTP: HSTS cannot apply", v)
	}
	if strings.TrimSpace(v) == "" {
		return fail(c, "medium", "no Strict-Transport-Security header", "")
	}
	age, sub, preload := int64(-1), false, false
	for _, d := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err == nil && n >= 0 {
				age = n
			}
		case "includesubdomains":
			sub = true
		case "preload":
			preload = true
		}
	}
	notes := fmt.Sprintf("includeSubDomains %s, preload %s", yesNo(sub), yesNo(preload))
	minSecs := int64(minAge / time.Second)
	switch {
	case age < 0:
		return fail(c, "medium", "Strict-Transport-Security has no valid max-age; "+notes, v)
	case age < minSecs:
		return fail(c, "low", fmt.Sprintf("max-age %d is below the minimum %d seconds; %s", age, minSecs, notes), v)
	}
	return pass(c, fmt.Sprintf("max-age %d (minimum %d); %s", age, minSecs, notes), v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// directives splits a CSP into its directives, by lower-case name (the
// first of a name stands, as browsers do).
func directives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, ok := out[name]; !ok {
			out[name] = f[1:]
		}
	}
	return out
}

func cspCheck(csp string) probe.Result {
	c := probe.CheckCSP
	if strings.TrimSpace(csp) == "" {
		return fail(c, "medium", "no Content-Security-Policy header", "")
	}
	d := directives(csp)
	src, which := d["script-src"], "script-src"
	if src == nil {
		src, which = d["default-src"], "default-src"
	}
	var unsafe []string
	nonceOrHash := false
	for _, s := range src {
		ls := strings.ToLower(s)
		if strings.HasPrefix(ls, "'nonce-") || strings.HasPrefix(ls, "'sha256-") || strings.HasPrefix(ls, "'sha384-") || strings.HasPrefix(ls, "'sha512-") {
			nonceOrHash = true
		}
	}
	for _, s := range src {
		switch strings.ToLower(s) {
		case "'unsafe-inline'":
			if !nonceOrHash { // ignored by browsers beside a nonce or hash
				unsafe = append(unsafe, "'unsafe-inline'")
			}
		case "'unsafe-eval'":
			unsafe = append(unsafe, "'unsafe-eval'")
		}
	}
	if len(unsafe) > 0 {
		return fail(c, "low", fmt.Sprintf("%s allows %s", which, strings.Join(unsafe, " and ")), csp)
	}
	return pass(c, "Content-Security-Policy is set without unsafe-inline or unsafe-eval", csp)
}

func frameOptions(xfo, csp string) probe.Result {
	c := probe.CheckFrameOptions
	if fa, ok := directives(csp)["frame-ancestors"]; ok {
		return pass(c, "CSP frame-ancestors is set", "frame-ancestors "+strings.Join(fa, " "))
	}
	switch strings.ToUpper(strings.TrimSpace(xfo)) {
	case "DENY", "SAMEORIGIN":
		return pass(c, "X-Frame-Options is "+strings.ToUpper(strings.TrimSpace(xfo)), xfo)
	case "":
		return fail(c, "medium", "neither X-Frame-Options nor CSP frame-ancestors is set", "")
	}
	return fail(c, "medium", "X-Frame-Options has a value browsers ignore (only DENY and SAMEORIGIN are honoured)", xfo)
}

func contentTypeOptions(v string) probe.Result {
	c := probe.CheckContentTypeOptions
	if strings.EqualFold(strings.TrimSpace(v), "nosniff") {
		return pass(c, "X-Content-Type-Options is nosniff", v)
	}
	if v == "" {
		return fail(c, "low", "no X-Content-Type-Options header", "")
	}
	return fail(c, "low", "X-Content-Type-Options is not nosniff", v)
}

var referrerPolicies = map[string]bool{ // value: leaks full URLs across origins
	"no-referrer": false, "no-referrer-when-downgrade": true, "origin": false, "origin-when-cross-origin": false,
	"same-origin": false, "strict-origin": false, "strict-origin-when-cross-origin": false, "unsafe-url": true,
}

func referrerPolicy(values []string) probe.Result {
	c := probe.CheckReferrerPolicy
	raw := strings.Join(values, ", ")
	policy := ""
	for _, v := range strings.Split(raw, ",") { // the last policy a browser knows stands
		v = strings.ToLower(strings.TrimSpace(v))
		if _, ok := referrerPolicies[v]; ok {
			policy = v
		}
	}
	switch {
	case policy == "" && strings.TrimSpace(raw) == "":
		return fail(c, "low", "no Referrer-Policy header (browsers default to strict-origin-when-cross-origin)", "")
	case policy == "":
		return fail(c, "low", "Referrer-Policy names no policy browsers know", raw)
	case referrerPolicies[policy]:
		return fail(c, "low", "Referrer-Policy "+policy+" sends full URLs to other origins", raw)
	}
	return pass(c, "Referrer-Policy is "+policy, raw)
}

func permissionsPolicy(v string) probe.Result {
	c := probe.CheckPermissionsPolicy
	if strings.TrimSpace(v) == "" {
		return fail(c, "low", "no Permissions-Policy header", "")
	}
	return pass(c, "Permissions-Policy is set", v)
}

// cookieChecks: three results per cookie; a response chain setting no
// cookie passes each cookie check on the target (so that a cookie that
// went away is fixed: the check was evaluated).
func cookieChecks(cookies []*http.Cookie) []probe.Result {
	if len(cookies) == 0 {
		var out []probe.Result
		for _, c := range probe.CookieChecks {
			out = append(out, pass(c, "no cookie is set", ""))
		}
		return out
	}
	var out []probe.Result
	for _, ck := range cookies {
		ev := clip(ck.String())
		r := pass(probe.CheckCookieSecure, "Secure is set", ev)
		if !ck.Secure {
			r = fail(probe.CheckCookieSecure, "medium", "cookie "+ck.Name+" is not Secure", ev)
		}
		r.Cookie = ck.Name
		out = append(out, r)
		r = pass(probe.CheckCookieHTTPOnly, "HttpOnly is set", ev)
		if !ck.HttpOnly {
			r = fail(probe.CheckCookieHTTPOnly, "low", "cookie "+ck.Name+" is not HttpOnly", ev)
		}
		r.Cookie = ck.Name
		out = append(out, r)
		switch {
		case ck.SameSite == http.SameSiteLaxMode || ck.SameSite == http.SameSiteStrictMode:
			r = pass(probe.CheckCookieSameSite, "SameSite is "+sameSite(ck.SameSite), ev)
		case ck.SameSite == http.SameSiteNoneMode && ck.Secure:
			r = pass(probe.CheckCookieSameSite, "SameSite is None, with Secure", ev)
		case ck.SameSite == http.SameSiteNoneMode:
			r = fail(probe.CheckCookieSameSite, "low", "cookie "+ck.Name+" is SameSite=None without Secure (browsers reject it)", ev)
		default:
			r = fail(probe.CheckCookieSameSite, "low", "cookie "+ck.Name+" has no SameSite value", ev)
		}
		r.Cookie = ck.Name
		out = append(out, r)
	}
	return out
}

func sameSite(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return ""
}

// version is a product version in a banner: "nginx/1.18.0", "PHP/8.1",
// "Apache 2.4.41".
var version = regexp.MustCompile(`[/ ]v?\d+(\.\d+)*`)

func serverBanner(v string) probe.Result {
	c := probe.CheckServerBanner
	if version.MatchString(v) {
		return fail(c, "low", "the Server header names a version", v)
	}
	if v == "" {
		return pass(c, "no Server header", "")
	}
	return pass(c, "the Server header names no version", v)
}

func poweredBy(v string) probe.Result {
	c := probe.CheckPoweredBy
	switch {
	case strings.TrimSpace(v) == "":
		return pass(c, "no X-Powered-By header", "")
	case version.MatchString(v):
		return fail(c, "low", "X-Powered-By names the framework and its version", v)
	}
	return fail(c, "low", "X-Powered-By names the framework", v)
}
