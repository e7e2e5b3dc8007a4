// Package tlscheck probes the TLS of a host:port with crypto/tls and
// crypto/x509: the protocol versions it offers (each of TLS 1.0, 1.1,
// 1.2 and 1.3 offered alone), the weak cipher suites it accepts (each
// offered alone), and its certificate (chain trust, host name, expiry,
// self-signed). It reports one result per check, pass or fail, in the
// cspm-probe-json format (platform/parsers/probe, docs/probes.md).
//
// SSLv3 cannot be offered by Go's client: it is probed with a hand-made
// ClientHello (sslv3.go).
package tlscheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/parsers/probe"
)

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultTotal         = 2 * time.Minute
	DefaultExpiryWarning = 30 * 24 * time.Hour
)

// Options tune the probe; the zero value uses the defaults.
type Options struct {
	Timeout       time.Duration // each connection (dial and handshake)
	Total         time.Duration // the whole probe (about 21 connections)
	ExpiryWarning time.Duration // a certificate expiring within it fails cert_expiry (medium)
	// RootCAs are the roots the chain is verified against (nil: the
	// system's).
	RootCAs *x509.CertPool
	Now     func() time.Time
	// ToolVersion is written in the report.
	ToolVersion string
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Total <= 0 {
		o.Total = DefaultTotal
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = DefaultExpiryWarning
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrUnreachable: the host:port could not be reached, or speaks no TLS
// version the probe offers (a scan problem: the report is not written,
// and nothing is fixed).
var ErrUnreachable = errors.New("tls probe: target unreachable")

// versions are probed in this order; the names are the report's.
var versions = []struct {
	v     uint16
	name  string
	check string
}{
	{tls.VersionTLS10, "TLS 1.0", probe.CheckTLS10},
	{tls.VersionTLS11, "TLS 1.1", probe.CheckTLS11},
	{tls.VersionTLS12, "TLS 1.2", ""},
	{tls.VersionTLS13, "TLS 1.3", ""},
}

// WeakSuites are the suites the probe offers one at a time: Go's
// insecure list (RC4, 3DES, CBC-SHA256) and, of its "secure" list, the
// CBC-SHA1 suites and those with RSA key exchange (no forward secrecy).
// Only suites usable up to TLS 1.2 (TLS 1.3's are all AEAD).
func WeakSuites() []*tls.CipherSuite {
	var out []*tls.CipherSuite
	for _, s := range tls.InsecureCipherSuites() {
		if below13(s) {
			out = append(out, s)
		}
	}
	for _, s := range tls.CipherSuites() {
		if below13(s) && (strings.HasSuffix(s.Name, "_CBC_SHA") || strings.HasPrefix(s.Name, "TLS_RSA_")) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func below13(s *tls.CipherSuite) bool {
	for _, v := range s.SupportedVersions {
		if v <= tls.VersionTLS12 {
			return true
		}
	}
	return false
}

// allSuites is every suite Go implements up to TLS 1.2, so that the
// protocol probes reach servers that accept only old suites.
func allSuites() []uint16 {
	var ids []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if below13(s) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// Probe checks the TLS of target ("host:port", "host" for port 443, or
// an https URL).
func Probe(ctx context.Context, target string, opts Options) (probe.Report, error) {
	opts = opts.withDefaults()
	host, port, err := probe.NormalizeHostPort(target)
	if err != nil {
		return probe.Report{}, err
	}
	addr := net.JoinHostPort(host, port)
	ctx, cancel := context.WithTimeout(ctx, opts.Total)
	defer cancel()
	rep := probe.Report{Probe: probe.ProbeTLS, ToolVersion: opts.ToolVersion, Target: addr, StartedAt: opts.Now().UTC(),
		Protocols: map[string]bool{}}
	p := prober{addr: addr, host: host, opts: opts}

	// Reachable at all? A refused or silent port is a scan problem.
	d := net.Dialer{Timeout: opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return probe.Report{}, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	_ = conn.Close()

	var state *tls.ConnectionState // of the highest version offered
	var maxOld uint16              // the highest version offered up to TLS 1.2
	for _, v := range versions {
		cfg := p.config()
		cfg.MinVersion, cfg.MaxVersion = v.v, v.v
		if v.v < tls.VersionTLS13 {
			cfg.CipherSuites = allSuites()
		}
		st, err := p.handshake(ctx, cfg)
		if ctx.Err() != nil {
			return probe.Report{}, ctx.Err()
		}
		rep.Protocols[v.name] = err == nil
		if err == nil {
			state = st
			if v.v <= tls.VersionTLS12 {
				maxOld = v.v
			}
		}
	}
	// SSLv3: a hand-made ClientHello (Go's client cannot offer it).
	ssl3 := probe.Result{Check: probe.CheckSSLv3}
	offered, why, err := offersSSLv3(ctx, addr, opts.Timeout)
	switch {
	case ctx.Err() != nil:
		return probe.Report{}, ctx.Err()
	case err != nil:
		ssl3.Result, ssl3.Detail = probe.ResultNotChecked, "SSLv3 not checked: "+err.Error()
		rep.NotChecked = append(rep.NotChecked, "SSLv3")
	case offered:
		ssl3.Result, ssl3.Severity, ssl3.Detail = probe.ResultFail, "high", why
		rep.Protocols["SSLv3"] = true
	default:
		ssl3.Result, ssl3.Detail = probe.ResultPass, why
		rep.Protocols["SSLv3"] = false
	}
	if state == nil && !offered {
		return probe.Report{}, fmt.Errorf("%w: %s offers none of SSLv3 and TLS 1.0 to 1.3", ErrUnreachable, addr)
	}

	res := []probe.Result{ssl3}
	for _, v := range versions[:2] {
		if rep.Protocols[v.name] {
			res = append(res, probe.Result{Check: v.check, Result: probe.ResultFail, Severity: "medium", Detail: v.name + " is offered"})
		} else {
			res = append(res, probe.Result{Check: v.check, Result: probe.ResultPass, Detail: v.name + " is not offered"})
		}
	}
	names := offeredNames(rep.Protocols)
	if rep.Protocols["TLS 1.2"] || rep.Protocols["TLS 1.3"] {
		res = append(res, probe.Result{Check: probe.CheckModernProtocol, Result: probe.ResultPass, Detail: "offered: " + names})
	} else {
		res = append(res, probe.Result{Check: probe.CheckModernProtocol, Result: probe.ResultFail, Severity: "high", Detail: "neither TLS 1.2 nor TLS 1.3 is offered; offered: " + names})
	}

	// Weak suites, each offered alone, up to the highest old version the
	// server speaks.
	if state == nil {
		// SSLv3 only: nothing else can be read with Go's client.
		for _, c := range []string{probe.CheckWeakCiphers, probe.CheckChain, probe.CheckHostname, probe.CheckExpiry, probe.CheckSelfSigned} {
			res = append(res, probe.Result{Check: c, Result: probe.ResultNotChecked, Detail: "the server speaks SSLv3 only: no TLS handshake completed"})
			rep.NotChecked = append(rep.NotChecked, c)
		}
		rep.Results = res
		rep.FinishedAt = opts.Now().UTC()
		return rep, nil
	}
	if maxOld == 0 {
		res = append(res, probe.Result{Check: probe.CheckWeakCiphers, Result: probe.ResultPass, Detail: "only TLS 1.3 is offered: no weak suite can be negotiated"})
	} else {
		for _, s := range WeakSuites() {
			cfg := p.config()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS10, maxOld, []uint16{s.ID}
			if st, err := p.handshake(ctx, cfg); err == nil && st.CipherSuite == s.ID {
				rep.WeakCiphers = append(rep.WeakCiphers, s.Name)
			}
			if ctx.Err() != nil {
				return probe.Report{}, ctx.Err()
			}
		}
		if len(rep.WeakCiphers) > 0 {
			res = append(res, probe.Result{Check: probe.CheckWeakCiphers, Result: probe.ResultFail, Severity: "medium",
				Detail: "accepted: " + strings.Join(rep.WeakCiphers, ", ")})
		} else {
			res = append(res, probe.Result{Check: probe.CheckWeakCiphers, Result: probe.ResultPass,
				Detail: fmt.Sprintf("none of %d weak suites accepted", len(WeakSuites()))})
		}
	}

	res = append(res, p.certificate(state, opts.Now())...)
	rep.Results = res
	rep.FinishedAt = opts.Now().UTC()
	return rep, nil
}

func offeredNames(m map[string]bool) string {
	var out []string
	for _, v := range versions {
		if m[v.name] {
			out = append(out, v.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

type prober struct {
	addr, host string
	opts       Options
}

// config is a client configuration that accepts any certificate: the
// certificate is judged from the state, after the handshake.
func (p prober) config() *tls.Config {
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // verified by hand (certificate)
	if net.ParseIP(p.host) == nil {
		cfg.ServerName = p.host
	}
	return cfg
}

func (p prober) handshake(ctx context.Context, cfg *tls.Config) (*tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: p.opts.Timeout}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	return &st, nil
}

// certificate judges the leaf (and chain) the server sent.
func (p prober) certificate(st *tls.ConnectionState, now time.Time) []probe.Result {
	if len(st.PeerCertificates) == 0 {
		r := probe.Result{Result: probe.ResultFail, Severity: "high", Detail: "the server sent no certificate"}
		var out []probe.Result
		for _, c := range []string{probe.CheckChain, probe.CheckHostname, probe.CheckExpiry, probe.CheckSelfSigned} {
			r.Check = c
			out = append(out, r)
		}
		return out
	}
	leaf := st.PeerCertificates[0]
	notAfter := leaf.NotAfter.UTC()
	ev := fmt.Sprintf("subject %q, issuer %q, not before %s, not after %s, SANs %s", leaf.Subject.String(), leaf.Issuer.String(),
		leaf.NotBefore.UTC().Format(time.RFC3339), notAfter.Format(time.RFC3339), strings.Join(sans(leaf), " "))
	var out []probe.Result

	// Chain: verified at a time within the leaf's validity, so that
	// expiry is cert_expiry's alone.
	at := now
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter.Add(-time.Second)
	} else if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore.Add(time.Second)
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.opts.RootCAs, Intermediates: inter, CurrentTime: at}); err != nil {
		out = append(out, probe.Result{Check: probe.CheckChain, Result: probe.ResultFail, Severity: "high", Detail: "the chain is not trusted: " + err.Error(), Evidence: ev})
	} else {
		out = append(out, probe.Result{Check: probe.CheckChain, Result: probe.ResultPass, Detail: "the chain leads to a trusted root", Evidence: ev})
	}

	if err := leaf.VerifyHostname(p.host); err != nil {
		out = append(out, probe.Result{Check: probe.CheckHostname, Result: probe.ResultFail, Severity: "high", Detail: err.Error(), Evidence: ev})
	} else {
		out = append(out, probe.Result{Check: probe.CheckHostname, Result: probe.ResultPass, Detail: "the certificate names " + p.host, Evidence: ev})
	}

	exp := probe.Result{Check: probe.CheckExpiry, Evidence: ev, NotAfter: &notAfter}
	left := leaf.NotAfter.Sub(now)
	switch {
	case now.After(leaf.NotAfter):
		exp.Result, exp.Severity, exp.Detail = probe.ResultFail, "high", "expired on "+notAfter.Format(time.RFC3339)
	case now.Before(leaf.NotBefore):
		exp.Result, exp.Severity, exp.Detail = probe.ResultFail, "high", "not valid before "+leaf.NotBefore.UTC().Format(time.RFC3339)
	case left < p.opts.ExpiryWarning:
		exp.Result, exp.Severity, exp.Detail = probe.ResultFail, "medium",
			fmt.Sprintf("expires on %s, within %d days", notAfter.Format(time.RFC3339), int(p.opts.ExpiryWarning.Hours()/24))
	default:
		exp.Result, exp.Detail = probe.ResultPass, fmt.Sprintf("valid until %s (%d days)", notAfter.Format(time.RFC3339), int(left.Hours()/24))
	}
	out = append(out, exp)

	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
		out = append(out, probe.Result{Check: probe.CheckSelfSigned, Result: probe.ResultFail, Severity: "medium", Detail: "the certificate is signed by its own key", Evidence: ev})
	} else {
		out = append(out, probe.Result{Check: probe.CheckSelfSigned, Result: probe.ResultPass, Detail: "issued by " + leaf.Issuer.String(), Evidence: ev})
	}
	return out
}

func sans(c *x509.Certificate) []string {
	out := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}
