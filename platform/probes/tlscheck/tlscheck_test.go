package tlscheck_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/probes/tlscheck"
)

// now is the probes' clock in these tests.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// ca is the test CA, made once.
var ca = sync.OnceValue(func() *issued {
	return issue(certSpec{cn: "cspm test CA", isCA: true, notBefore: now.AddDate(-1, 0, 0), notAfter: now.AddDate(5, 0, 0)}, nil)
})

type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	tls  tls.Certificate
}

type certSpec struct {
	cn                  string
	dns                 []string
	isCA                bool
	notBefore, notAfter time.Time
}

// issue makes a certificate: signed by parent, or self-signed when nil.
func issue(s certSpec, parent *issued) *issued {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: s.cn}, DNSNames: s.dns,
		NotBefore: s.notBefore, NotAfter: s.notAfter, BasicConstraintsValid: true, IsCA: s.isCA,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if s.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &issued{cert: cert, key: key, tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}
}

// good is a certificate for localhost, issued by the CA, valid a year.
func good() certSpec {
	return certSpec{cn: "localhost", dns: []string{"localhost"}, notBefore: now.AddDate(0, -1, 0), notAfter: now.AddDate(1, 0, 0)}
}

func roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca().cert)
	return p
}

// listen serves TLS with cfg (the certificate set by the caller) on
// 127.0.0.1 and returns "localhost:port".
func listen(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort("localhost", port)
}

func server(t *testing.T, leaf *issued, mutate func(*tls.Config)) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.tls}, MinVersion: tls.VersionTLS12}
	if mutate != nil {
		mutate(cfg)
	}
	return listen(t, cfg)
}

func run(t *testing.T, addr string) probe.Report {
	t.Helper()
	rep, err := tlscheck.Probe(t.Context(), addr, tlscheck.Options{Timeout: 5 * time.Second, RootCAs: roots(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	return rep
}

func result(t *testing.T, rep probe.Report, check string) probe.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no result of %s in %+v", check, rep.Results)
	return probe.Result{}
}

// One case per check, pass and fail, against local TLS servers.
func TestChecks(t *testing.T) {
	t.Parallel()
	// Go's default server suites include the CBC-SHA1 ones: a modern
	// server accepts AEAD suites only.
	modern := server(t, issue(good(), ca()), func(c *tls.Config) {
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	})
	cases := []struct {
		name     string
		addr     func(t *testing.T) string
		check    string
		want     string
		severity string
		detail   string
	}{
		{"sslv3 not offered (a Go server refuses it with an alert)", func(*testing.T) string { return modern }, probe.CheckSSLv3, "pass", "", "refused SSLv3 with an alert"},
		{"sslv3 offered (a server answering with an SSLv3 ServerHello)", sslv3Server, probe.CheckSSLv3, "fail", "high", "accepted SSLv3"},

		{"tls 1.0 not offered", func(*testing.T) string { return modern }, probe.CheckTLS10, "pass", "", "not offered"},
		{"tls 1.0 offered (a TLS 1.0-only server)", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 })
		}, probe.CheckTLS10, "fail", "medium", "TLS 1.0 is offered"},
		{"tls 1.1 not offered", func(*testing.T) string { return modern }, probe.CheckTLS11, "pass", "", "not offered"},
		{"tls 1.1 offered", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 })
		}, probe.CheckTLS11, "fail", "medium", "TLS 1.1 is offered"},
		{"modern protocol offered", func(*testing.T) string { return modern }, probe.CheckModernProtocol, "pass", "", "TLS 1.2, TLS 1.3"},
		{"no modern protocol (TLS 1.0-only)", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 })
		}, probe.CheckModernProtocol, "fail", "high", "offered: TLS 1.0"},

		{"no weak suite", func(*testing.T) string { return modern }, probe.CheckWeakCiphers, "pass", "", "none of"},
		{"weak suites: Go's default server suites (CBC-SHA1)", func(t *testing.T) string { return server(t, issue(good(), ca()), nil) },
			probe.CheckWeakCiphers, "fail", "medium", "accepted: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
		{"weak suite: CBC-SHA1", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) {
				c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
			})
		}, probe.CheckWeakCiphers, "fail", "medium", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
		{"weak suite: RC4", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}
			})
		}, probe.CheckWeakCiphers, "fail", "medium", "accepted: TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
		{"weak suite: RSA key exchange (no forward secrecy)", func(t *testing.T) string {
			return server(t, rsaLeaf(), func(c *tls.Config) {
				c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
			})
		}, probe.CheckWeakCiphers, "fail", "medium", "accepted: TLS_RSA_WITH_AES_128_GCM_SHA256"},
		{"weak suite: 3DES", func(t *testing.T) string {
			return server(t, rsaLeaf(), func(c *tls.Config) {
				c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}
			})
		}, probe.CheckWeakCiphers, "fail", "medium", "accepted: TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
		{"tls 1.3 only: no weak suite can be negotiated", func(t *testing.T) string {
			return server(t, issue(good(), ca()), func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 })
		}, probe.CheckWeakCiphers, "pass", "", "only TLS 1.3"},

		{"chain trusted", func(*testing.T) string { return modern }, probe.CheckChain, "pass", "", "trusted root"},
		{"chain untrusted (another CA)", func(t *testing.T) string {
			other := issue(certSpec{cn: "other CA", isCA: true, notBefore: now.AddDate(-1, 0, 0), notAfter: now.AddDate(5, 0, 0)}, nil)
			return server(t, issue(good(), other), nil)
		}, probe.CheckChain, "fail", "high", "not trusted"},
		{"chain of an expired certificate is still judged on trust", func(t *testing.T) string {
			s := good()
			s.notBefore, s.notAfter = now.AddDate(-1, 0, 0), now.AddDate(0, 0, -1)
			return server(t, issue(s, ca()), nil)
		}, probe.CheckChain, "pass", "", ""},

		{"hostname matches", func(*testing.T) string { return modern }, probe.CheckHostname, "pass", "", "names localhost"},
		{"wrong hostname", func(t *testing.T) string {
			s := good()
			s.dns = []string{"www.example.com"}
			return server(t, issue(s, ca()), nil)
		}, probe.CheckHostname, "fail", "high", "www.example.com"},

		{"valid for a year", func(*testing.T) string { return modern }, probe.CheckExpiry, "pass", "", "valid until"},
		{"expiring in 5 days", func(t *testing.T) string {
			s := good()
			s.notAfter = now.AddDate(0, 0, 5)
			return server(t, issue(s, ca()), nil)
		}, probe.CheckExpiry, "fail", "medium", "within 30 days"},
		{"expired", func(t *testing.T) string {
			s := good()
			s.notBefore, s.notAfter = now.AddDate(-1, 0, 0), now.AddDate(0, 0, -1)
			return server(t, issue(s, ca()), nil)
		}, probe.CheckExpiry, "fail", "high", "expired on 2026-05-31"},
		{"not yet valid", func(t *testing.T) string {
			s := good()
			s.notBefore = now.AddDate(0, 0, 1)
			return server(t, issue(s, ca()), nil)
		}, probe.CheckExpiry, "fail", "high", "not valid before"},

		{"issued by a CA", func(*testing.T) string { return modern }, probe.CheckSelfSigned, "pass", "", "cspm test CA"},
		{"self-signed", func(t *testing.T) string { return server(t, issue(good(), nil), nil) }, probe.CheckSelfSigned, "fail", "medium", "its own key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := run(t, tc.addr(t))
			r := result(t, rep, tc.check)
			assert.Equal(t, tc.want, r.Result, "%+v", r)
			if tc.want == "fail" {
				assert.Equal(t, tc.severity, r.Severity, "%+v", r)
			}
			assert.Contains(t, r.Detail, tc.detail)
		})
	}
}

// The expiry result carries not_after; the report names the versions
// offered and SSLv3 as not checked.
func TestReport(t *testing.T) {
	t.Parallel()
	s := good()
	s.notAfter = now.AddDate(0, 0, 5)
	rep := run(t, server(t, issue(s, ca()), nil))
	r := result(t, rep, probe.CheckExpiry)
	require.NotNil(t, r.NotAfter)
	assert.Equal(t, s.notAfter.Truncate(time.Second), r.NotAfter.UTC())
	assert.Equal(t, map[string]bool{"SSLv3": false, "TLS 1.0": false, "TLS 1.1": false, "TLS 1.2": true, "TLS 1.3": true}, rep.Protocols)
	assert.Empty(t, rep.NotChecked)
	assert.True(t, strings.HasPrefix(rep.Target, "localhost:"), rep.Target)
	var checks []string
	for _, r := range rep.Results {
		checks = append(checks, r.Check)
	}
	assert.Equal(t, []string{"protocol_sslv3", "protocol_tls10", "protocol_tls11", "protocol_modern", "weak_cipher_suites",
		"cert_chain_valid", "cert_hostname", "cert_expiry", "cert_self_signed"}, checks)
}

// Scan problems are errors, with no report: a closed port, a port that
// speaks no TLS.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = tlscheck.Probe(t.Context(), closed, tlscheck.Options{Timeout: 2 * time.Second})
	assert.ErrorIs(t, err, tlscheck.ErrUnreachable)

	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, err = tlscheck.Probe(t.Context(), plain.URL, tlscheck.Options{Timeout: 2 * time.Second})
	assert.ErrorIs(t, err, tlscheck.ErrUnreachable)
	assert.ErrorContains(t, err, "offers none of SSLv3 and TLS 1.0 to 1.3")
}

// sslv3Server answers every connection's first record with an SSLv3
// ServerHello (as a server speaking only SSLv3 would), then hangs up:
// Go's client fails every TLS handshake with it.
func sslv3Server(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	hello := append([]byte{0x03, 0x00}, make([]byte, 32)...) // version 3.0, random
	hello = append(hello, 0, 0x00, 0x2F, 0)                  // no session id, TLS_RSA_WITH_AES_128_CBC_SHA, null compression
	msg := append([]byte{0x02, 0, 0, byte(len(hello))}, hello...)
	rec := append([]byte{0x16, 0x03, 0x00, 0, byte(len(msg))}, msg...)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var hdr [5]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint16(hdr[3:]))); err != nil {
					return
				}
				_, _ = c.Write(rec)
			}()
		}
	}()
	return ln.Addr().String()
}

// A server speaking SSLv3 only: reported (SSLv3 offered, no modern
// protocol), the checks that need a TLS handshake not checked.
func TestSSLv3Only(t *testing.T) {
	t.Parallel()
	rep := run(t, sslv3Server(t))
	assert.Equal(t, map[string]bool{"SSLv3": true, "TLS 1.0": false, "TLS 1.1": false, "TLS 1.2": false, "TLS 1.3": false}, rep.Protocols)
	assert.Equal(t, "fail", result(t, rep, probe.CheckSSLv3).Result)
	assert.Equal(t, "fail", result(t, rep, probe.CheckModernProtocol).Result)
	assert.Equal(t, []string{"weak_cipher_suites", "cert_chain_valid", "cert_hostname", "cert_expiry", "cert_self_signed"}, rep.NotChecked)
	for _, c := range rep.NotChecked {
		assert.Equal(t, "not_checked", result(t, rep, c).Result)
	}
}

// rsaLeaf is a certificate for localhost with an RSA key (the RSA key
// exchange suites need one), issued by the CA; made once.
var rsaLeaf = sync.OnceValue(func() *issued {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	s := good()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: s.cn}, DNSNames: s.dns,
		NotBefore: s.notBefore, NotAfter: s.notAfter, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca().cert, &key.PublicKey, ca().key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &issued{cert: cert, tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}
})

// A port that accepts and never answers: each connection ends at its
// timeout, the whole probe at Total; an error, no report.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	_, err = tlscheck.Probe(t.Context(), ln.Addr().String(), tlscheck.Options{Timeout: 100 * time.Millisecond, Total: 5 * time.Second})
	require.ErrorIs(t, err, tlscheck.ErrUnreachable)

	_, err = tlscheck.Probe(t.Context(), ln.Addr().String(), tlscheck.Options{Timeout: time.Second, Total: 300 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the whole probe's deadline")
}
