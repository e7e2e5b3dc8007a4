package parsers

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/nuclei"
	"github.com/cspm-es/cspm-es/platform/parsers/sslyze"
	"github.com/cspm-es/cspm-es/platform/parsers/testssl"
	"github.com/cspm-es/cspm-es/platform/parsers/zap"
)

// Native security scanners (Nuclei, ZAP, testssl.sh, SSLyze): their
// reports are findings of targets, read by Parse into observations like
// Prowler's (docs/security-scans.md).

// ScannerFormats are the native scanners' format names.
var ScannerFormats = []string{nuclei.FormatJSONL, nuclei.FormatJSON, zap.Format, testssl.Format, sslyze.Format}

// scannerFormat names a scanner format from a name or a tool's name.
func scannerFormat(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case nuclei.FormatJSONL, nuclei.FormatJSON, zap.Format, testssl.Format, sslyze.Format:
		return n, true
	case "nuclei", "nuclei-json-export":
		if n == "nuclei" {
			return nuclei.FormatJSONL, true
		}
		return nuclei.FormatJSON, true
	case "zap", "owasp-zap", "zap-traditional-json":
		return zap.Format, true
	case "testssl", "testssl.sh", "testssl-json-pretty":
		return testssl.Format, true
	case "sslyze":
		return sslyze.Format, true
	}
	return "", false
}

// detectScanner names a scanner's report from its first bytes.
func detectScanner(head []byte) (string, bool) {
	for _, d := range []func([]byte) (string, bool){nuclei.Detect, zap.Detect, sslyze.Detect, testssl.Detect} {
		if f, ok := d(head); ok {
			return f, true
		}
	}
	return "", false
}

// parseScanner reads a scanner's report into observations.
func parseScanner(ctx context.Context, r io.Reader, format string, emit func(cloudsecurity.Observation) error) (Info, error) {
	info := Info{Format: format}
	switch format {
	case nuclei.FormatJSONL, nuclei.FormatJSON:
		info.Tool = nuclei.Tool
		s, err := nuclei.Parse(ctx, r, format, emit)
		info.Problems, info.ProblemsCount = s.Problems, len(s.Problems)
		return info, err
	case zap.Format:
		info.Tool = zap.Tool
		s, err := zap.Parse(ctx, r, emit)
		info.ToolVersion = s.Version
		return info, err
	case testssl.Format:
		info.Tool = testssl.Tool
		var version string
		s, err := testssl.Parse(ctx, r, func(o cloudsecurity.Observation) error {
			version = o.ToolVersion
			return emit(o)
		})
		info.ToolVersion = version
		info.Problems, info.ProblemsCount = s.Problems, len(s.Problems)
		info.Undated = s.StartedAt.IsZero()
		for _, c := range s.Certificates {
			info.Certificates = append(info.Certificates, cloudsecurity.CertificateSeen{Target: c.Target, Cert: c.Cert, NotAfter: c.NotAfter})
		}
		return info, err
	case sslyze.Format:
		info.Tool = sslyze.Tool
		s, err := sslyze.Parse(ctx, r, emit)
		info.ToolVersion = s.ToolVersion
		info.Problems, info.ProblemsCount = s.Problems, len(s.Problems)
		for _, c := range s.Certificates {
			info.Certificates = append(info.Certificates, cloudsecurity.CertificateSeen{Target: c.Target, Cert: c.Cert, Subject: c.Subject,
				NotBefore: c.NotBefore, NotAfter: c.NotAfter, FingerprintSHA256: c.FingerprintSHA256})
		}
		return info, err
	}
	return info, fmt.Errorf("%w %q", ErrUnknownFormat, format)
}
