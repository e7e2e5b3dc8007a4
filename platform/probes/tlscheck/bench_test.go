package tlscheck_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/platform/probes/tlscheck"
)

// BenchmarkProbe: one whole TLS probe (4 protocol handshakes, one per
// weak suite, the SSLv3 ClientHello, the certificate checks) of a local
// server that speaks TLS 1.2-1.3 with AEAD suites only; ms/probe is its
// wall time.
func BenchmarkProbe(b *testing.B) {
	leaf := issue(good(), ca())
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.tls}, MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = c.(*tls.Conn).Handshake() }()
		}
	}()
	opts := tlscheck.Options{Timeout: 5 * time.Second, RootCAs: roots(), Now: func() time.Time { return now }}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := tlscheck.Probe(b.Context(), ln.Addr().String(), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/probe")
	b.ReportMetric(float64(4+len(tlscheck.WeakSuites())+1), "connections/probe") // protocols, weak suites, SSLv3
}
