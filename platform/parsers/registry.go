package parsers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
	"github.com/cspm-es/cspm-es/platform/parsers/steampipe"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// Registry is every parser, behind one door: the import asks it to name a
// report's format and to read it, whatever the tool. Format names carry
// the tool ("prowler-ocsf"); a new tool's package adds its formats here.
type Registry struct{}

// Info is what a parse learnt of a whole report.
type Info struct {
	Format      string
	Tool        string
	ToolVersion string
	// Native scanners (registry_scanners.go): the scan problems the report
	// recorded, and whether its results carry no time (a flat testssl.sh
	// report: the import dates them).
	Problems      []cloudsecurity.ScanProblem
	ProblemsCount int
	Undated       bool
	Certificates  []cloudsecurity.CertificateSeen
}

// ErrUnknownFormat: no parser reads that format name or content type.
var ErrUnknownFormat = errors.New("unknown report format")

// Formats lists the format names the registry reads.
func (Registry) Formats() []string {
	var out []string
	for _, f := range prowler.Formats {
		out = append(out, string(f))
	}
	out = append(out, KEVFormats...)
	out = append(out, steampipe.Format)
	out = append(out, string(trivy.FormatJSON), string(trivy.FormatLegacy))
	out = append(out, probe.Format)
	out = append(out, ScannerFormats...)
	return out
}

// Format names a format from a name given by the caller (a ?format= or
// --format value: a format name or a tool's own output name).
func (Registry) Format(name string) (string, error) {
	if f, err := prowler.ParseFormat(name); err == nil {
		return string(f), nil
	}
	if n := strings.ToLower(strings.TrimSpace(name)); n == steampipe.Format || n == steampipe.Tool {
		return steampipe.Format, nil
	}
	if f, ok := trivyFormat(name); ok {
		return string(f), nil
	}
	if f := strings.ToLower(strings.TrimSpace(name)); slices.Contains(KEVFormats, f) {
		return f, nil
	}
	if probeFormat(name) {
		return probe.Format, nil
	}
	if f, ok := scannerFormat(name); ok {
		return f, nil
	}
	return "", fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, name, strings.Join(Registry{}.Formats(), ", "))
}

// FormatForContentType names the format a Content-Type says, "" when it
// says none (the report is detected: application/json, text/plain...).
func (Registry) FormatForContentType(contentType string) (string, error) {
	f, err := prowler.FormatForContentType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnknownFormat, err)
	}
	return string(f), nil
}

// Detect names the format of a report from its first bytes.
func (Registry) Detect(head []byte) (string, error) {
	if f, ok := detectScanner(head); ok {
		return f, nil
	}
	if f, ok := trivy.Detect(head); ok {
		return string(f), nil
	}
	if probe.Detect(head) {
		return probe.Format, nil
	}
	f, err := prowler.Detect(head)
	if err != nil {
		if steampipe.Detect(head) { // the envelope only: a plain array of rows is named
			return steampipe.Format, nil
		}
		return "", err
	}
	return string(f), nil
}

// Parse streams a report's observations to emit.
func (Registry) Parse(ctx context.Context, r io.Reader, format string, emit func(cloudsecurity.Observation) error) (Info, error) {
	if IsInventory(format) {
		return Info{}, fmt.Errorf("%s is an inventory format: it gives assets, not findings", format)
	}
	if _, ok := trivyFormat(format); ok {
		return Info{}, fmt.Errorf("%w: a %s report is a vulnerability scan: read it with ParseScan", ErrUnknownFormat, format)
	}
	if probeFormat(format) {
		return parseProbe(ctx, r, emit)
	}
	if slices.Contains(ScannerFormats, format) {
		return parseScanner(ctx, r, format, emit)
	}
	f, err := prowler.ParseFormat(format)
	if err != nil {
		return Info{}, fmt.Errorf("%w %q", ErrUnknownFormat, format)
	}
	sum, err := prowler.Parse(ctx, r, f, emit)
	return Info{Format: string(sum.Format), Tool: prowler.Tool, ToolVersion: sum.ToolVersion}, err
}

// IsInventory reports a format whose reports are asset inventories
// (read by ParseInventory), not findings.
func IsInventory(format string) bool { return format == steampipe.Format }

// IsInventory reports a format whose reports are asset inventories.
func (Registry) IsInventory(format string) bool { return IsInventory(format) }

// ParseInventory streams an inventory report's records to emit: the rows
// of table (the tool's table, "" when unknown).
func (Registry) ParseInventory(ctx context.Context, r io.Reader, format, table string, emit func(cloudassets.Record) error) (Info, error) {
	if format != steampipe.Format {
		return Info{}, fmt.Errorf("%w %q: not an inventory format", ErrUnknownFormat, format)
	}
	_, err := steampipe.Parse(ctx, r, table, emit)
	return Info{Format: steampipe.Format, Tool: steampipe.Tool}, err
}

// Trivy: its reports are vulnerability scans of one artifact (the
// vulnerabilities module imports them), read with ParseScan.

// IsScanFormat reports whether format is read by ParseScan.
func (Registry) IsScanFormat(format string) bool {
	_, ok := trivyFormat(format)
	return ok
}

func trivyFormat(name string) (trivy.Format, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "trivy", string(trivy.FormatJSON):
		return trivy.FormatJSON, true
	case string(trivy.FormatLegacy):
		return trivy.FormatLegacy, true
	}
	return "", false
}

// ParseScan streams a Trivy report's items to emit (both Trivy formats:
// the parser tells them by the first byte).
func (Registry) ParseScan(ctx context.Context, r io.Reader, emit func(trivy.Item) error) (trivy.Summary, error) {
	return trivy.Parse(ctx, r, emit)
}

// KEVFormats are the CISA KEV catalogue's forms: the import hands them to
// the threat-intelligence module (ParseKEV), not to Parse. They are only
// read when named (?format=kev-json|kev-csv), never detected.
var KEVFormats = []string{string(kev.FormatJSON), string(kev.FormatCSV)}

// ParseKEV reads and validates a whole KEV catalogue (kev-json, kev-csv).
func (Registry) ParseKEV(ctx context.Context, r io.Reader, format string) (threatintel.Catalogue, error) {
	if !slices.Contains(KEVFormats, format) {
		return threatintel.Catalogue{}, fmt.Errorf("%w %q", ErrUnknownFormat, format)
	}
	return kev.Parse(ctx, r, kev.Format(format), kev.Options{})
}
