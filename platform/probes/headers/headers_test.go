package headers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/probes/headers"
)

// serve answers every request with the headers given (a list of name,
// value pairs: a name may repeat, as Set-Cookie does).
func serve(kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		_, _ = w.Write([]byte("ok"))
	}
}

func probeTLS(t *testing.T, h http.Handler) probe.Report {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	rep, err := headers.Probe(t.Context(), srv.URL, headers.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	return rep
}

func result(t *testing.T, rep probe.Report, check, cookie string) probe.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check && r.Cookie == cookie {
			return r
		}
	}
	t.Fatalf("no result of %s (cookie %q) in %+v", check, cookie, rep.Results)
	return probe.Result{}
}

// One case per check, pass and fail, against a local HTTPS server.
func TestChecks(t *testing.T) {
	t.Parallel()
	const year = "max-age=31536000; includeSubDomains"
	cases := []struct {
		name     string
		check    string
		cookie   string
		headers  []string
		want     string // pass, fail
		severity string // of a failure
		detail   string // in the detail
	}{
		{"hsts long max-age", probe.CheckHSTS, "", []string{"Strict-Transport-Security", year}, "pass", "", "includeSubDomains yes"},
		{"hsts missing", probe.CheckHSTS, "", nil, "fail", "medium", "no Strict-Transport-Security"},
		{"hsts short max-age", probe.CheckHSTS, "", []string{"Strict-Transport-Security", "max-age=3600"}, "fail", "low", "below the minimum 15552000"},
		{"hsts no max-age", probe.CheckHSTS, "", []string{"Strict-Transport-Security", "includeSubDomains"}, "fail", "medium", "no valid max-age"},

		{"csp strict", probe.CheckCSP, "", []string{"Content-Security-Policy", "default-src 'self'"}, "pass", "", ""},
		{"csp missing", probe.CheckCSP, "", nil, "fail", "medium", "no Content-Security-Policy"},
		{"csp unsafe-inline and unsafe-eval", probe.CheckCSP, "", []string{"Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'"}, "fail", "low", "script-src allows 'unsafe-inline' and 'unsafe-eval'"},
		{"csp unsafe-inline beside a nonce is ignored", probe.CheckCSP, "", []string{"Content-Security-Policy", "script-src 'nonce-abc' 'unsafe-inline'"}, "pass", "", ""},
		{"csp report-only does not count", probe.CheckCSP, "", []string{"Content-Security-Policy-Report-Only", "default-src 'self'"}, "fail", "medium", ""},

		{"frame options DENY", probe.CheckFrameOptions, "", []string{"X-Frame-Options", "deny"}, "pass", "", "DENY"},
		{"frame-ancestors", probe.CheckFrameOptions, "", []string{"Content-Security-Policy", "frame-ancestors 'none'"}, "pass", "", "frame-ancestors"},
		{"frame options missing", probe.CheckFrameOptions, "", nil, "fail", "medium", "neither"},
		{"frame options ALLOW-FROM", probe.CheckFrameOptions, "", []string{"X-Frame-Options", "ALLOW-FROM https://a.example"}, "fail", "medium", "ignore"},

		{"nosniff", probe.CheckContentTypeOptions, "", []string{"X-Content-Type-Options", "nosniff"}, "pass", "", ""},
		{"no nosniff", probe.CheckContentTypeOptions, "", nil, "fail", "low", ""},

		{"referrer policy strict", probe.CheckReferrerPolicy, "", []string{"Referrer-Policy", "no-referrer, strict-origin-when-cross-origin"}, "pass", "", "strict-origin-when-cross-origin"},
		{"referrer policy unsafe-url", probe.CheckReferrerPolicy, "", []string{"Referrer-Policy", "unsafe-url"}, "fail", "low", "full URLs"},
		{"referrer policy missing", probe.CheckReferrerPolicy, "", nil, "fail", "low", ""},

		{"permissions policy", probe.CheckPermissionsPolicy, "", []string{"Permissions-Policy", "camera=()"}, "pass", "", ""},
		{"permissions policy missing", probe.CheckPermissionsPolicy, "", nil, "fail", "low", ""},

		{"cookie secure", probe.CheckCookieSecure, "sid", []string{"Set-Cookie", "sid=1; Secure; HttpOnly; SameSite=Lax"}, "pass", "", ""},
		{"cookie not secure", probe.CheckCookieSecure, "sid", []string{"Set-Cookie", "sid=1; HttpOnly; SameSite=Lax"}, "fail", "medium", "not Secure"},
		{"cookie httponly", probe.CheckCookieHTTPOnly, "sid", []string{"Set-Cookie", "sid=1; Secure; HttpOnly"}, "pass", "", ""},
		{"cookie not httponly", probe.CheckCookieHTTPOnly, "theme", []string{"Set-Cookie", "sid=1; Secure; HttpOnly", "Set-Cookie", "theme=dark; Secure"}, "fail", "low", "theme is not HttpOnly"},
		{"cookie samesite strict", probe.CheckCookieSameSite, "sid", []string{"Set-Cookie", "sid=1; SameSite=Strict"}, "pass", "", "Strict"},
		{"cookie samesite none with secure", probe.CheckCookieSameSite, "sid", []string{"Set-Cookie", "sid=1; SameSite=None; Secure"}, "pass", "", "None"},
		{"cookie samesite none without secure", probe.CheckCookieSameSite, "sid", []string{"Set-Cookie", "sid=1; SameSite=None"}, "fail", "low", "without Secure"},
		{"cookie samesite missing", probe.CheckCookieSameSite, "sid", []string{"Set-Cookie", "sid=1"}, "fail", "low", "no SameSite"},
		{"no cookie: passes on the target", probe.CheckCookieSecure, "", nil, "pass", "", "no cookie"},

		{"server banner without version", probe.CheckServerBanner, "", []string{"Server", "nginx"}, "pass", "", ""},
		{"server banner with version", probe.CheckServerBanner, "", []string{"Server", "nginx/1.18.0 (Ubuntu)"}, "fail", "low", "version"},
		{"no x-powered-by", probe.CheckPoweredBy, "", nil, "pass", "", ""},
		{"x-powered-by with version", probe.CheckPoweredBy, "", []string{"X-Powered-By", "PHP/8.1.2"}, "fail", "low", "version"},
		{"x-powered-by without version", probe.CheckPoweredBy, "", []string{"X-Powered-By", "Express"}, "fail", "low", "names the framework"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := probeTLS(t, serve(tc.headers...))
			r := result(t, rep, tc.check, tc.cookie)
			assert.Equal(t, tc.want, r.Result, "%+v", r)
			if tc.want == "fail" {
				assert.Equal(t, tc.severity, r.Severity, "%+v", r)
			}
			assert.Contains(t, r.Detail, tc.detail)
		})
	}
}

// Every check gives a result, in a fixed order, whatever the headers.
func TestEveryCheckReported(t *testing.T) {
	t.Parallel()
	rep := probeTLS(t, serve("Set-Cookie", "a=1", "Set-Cookie", "b=2"))
	var checks []string
	for _, r := range rep.Results {
		checks = append(checks, r.Check+"/"+r.Cookie)
	}
	assert.Equal(t, []string{"hsts/", "csp/", "frame_options/", "content_type_options/", "referrer_policy/", "permissions_policy/",
		"cookie_secure/a", "cookie_httponly/a", "cookie_samesite/a", "cookie_secure/b", "cookie_httponly/b", "cookie_samesite/b",
		"server_banner/", "powered_by_banner/"}, checks)
	assert.Equal(t, http.StatusOK, rep.StatusCode)
	assert.Equal(t, probe.ProbeHeaders, rep.Probe)
}

// Over plain HTTP, HSTS fails whatever the header says.
func TestPlainHTTP_HSTSFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(serve("Strict-Transport-Security", "max-age=31536000"))
	defer srv.Close()
	rep, err := headers.Probe(t.Context(), srv.URL, headers.Options{})
	require.NoError(t, err)
	r := result(t, rep, probe.CheckHSTS, "")
	assert.Equal(t, "fail", r.Result)
	assert.Contains(t, r.Detail, "plain HTTP")
}

// Redirects are followed and recorded; the final response is judged and
// the cookies of every response on the way are.
func TestRedirectsFollowedAndRecorded(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "first", Value: "1"})
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("/login", serve("X-Content-Type-Options", "nosniff"))
	rep := probeTLS(t, mux)
	require.Len(t, rep.Redirects, 1)
	assert.Equal(t, http.StatusFound, rep.Redirects[0].StatusCode)
	assert.Equal(t, "/login", rep.Redirects[0].Location)
	assert.True(t, strings.HasSuffix(rep.FinalURL, "/login"), rep.FinalURL)
	assert.False(t, rep.Truncated)
	assert.Equal(t, "pass", result(t, rep, probe.CheckContentTypeOptions, "").Result)
	assert.Equal(t, "fail", result(t, rep, probe.CheckCookieSecure, "first").Result)
}

// A redirect loop stops at the limit, recorded as truncated.
func TestRedirectLimit(t *testing.T) {
	t.Parallel()
	n := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		http.Redirect(w, r, fmt.Sprintf("/r%d", n), http.StatusMovedPermanently)
	}))
	defer srv.Close()
	rep, err := headers.Probe(t.Context(), srv.URL, headers.Options{MaxRedirects: 3})
	require.NoError(t, err)
	assert.Len(t, rep.Redirects, 4, "the three followed and the one not")
	assert.True(t, rep.Truncated)
	assert.Equal(t, http.StatusMovedPermanently, rep.StatusCode)
}

// A body is not read beyond the cap: an endless body does not hold the
// probe.
func TestBodyCapped(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		chunk := []byte(strings.Repeat("x", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	rep, err := headers.Probe(t.Context(), srv.URL, headers.Options{MaxBody: 64 << 10, Timeout: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, "pass", result(t, rep, probe.CheckContentTypeOptions, "").Result)
}

// A server that never answers: the deadline ends the probe, an error
// (a scan problem), no report.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := headers.Probe(t.Context(), srv.URL, headers.Options{Timeout: 200 * time.Millisecond})
	require.Error(t, err)
	assert.True(t, errors.Is(err, headers.ErrUnreachable), "%v", err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(serve())
	url := srv.URL
	srv.Close()
	_, err := headers.Probe(t.Context(), url, headers.Options{Timeout: 2 * time.Second})
	assert.ErrorIs(t, err, headers.ErrUnreachable)
}

// An http:// target redirecting to https (the usual set-up): the HTTPS
// response is judged, so HSTS passes; the findings stay on the target as
// given.
func TestHTTPToHTTPSRedirect(t *testing.T) {
	t.Parallel()
	secure := httptest.NewTLSServer(serve("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"))
	defer secure.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, secure.URL+"/", http.StatusMovedPermanently)
	}))
	defer plain.Close()
	rep, err := headers.Probe(t.Context(), plain.URL, headers.Options{})
	require.NoError(t, err)
	assert.Equal(t, plain.URL+"/", rep.Target)
	assert.Equal(t, secure.URL+"/", rep.FinalURL)
	require.Len(t, rep.Redirects, 1)
	r := result(t, rep, probe.CheckHSTS, "")
	assert.Equal(t, "pass", r.Result)
	assert.Contains(t, r.Detail, "includeSubDomains yes, preload yes")
}
