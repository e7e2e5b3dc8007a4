package main

import (
	"context"
	"errors"
	"io"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// newVulnerabilityCommands are the vulnerabilities module's commands: the
// Trivy import, through the parser registry and the store's batch append.
func newVulnerabilityCommands(kit *commands.Kit, store eventstore.Store) *vulncmd.Handlers {
	return vulncmd.New(kit, scanParsers{}, store)
}

// scanParsers adapts the registry's Trivy parser to the import's port.
type scanParsers struct{ parsers.Registry }

func (p scanParsers) ParseScan(ctx context.Context, r io.Reader, format string, emit func(vulncmd.Item) error) (vulncmd.ScanInfo, error) {
	sum, err := p.Registry.ParseScan(ctx, r, func(it trivy.Item) error {
		switch {
		case it.Vulnerability != nil:
			rec, occ := it.Vulnerability.Record, it.Vulnerability.Occurrence
			return emit(vulncmd.Item{Vulnerability: &rec, Occurrence: &occ})
		case it.Misconfiguration != nil:
			return emit(vulncmd.Item{Misconfiguration: it.Misconfiguration})
		case it.Secret != nil:
			return emit(vulncmd.Item{Secret: it.Secret})
		}
		return nil // package inventories (--list-all-pkgs) are not recorded
	})
	info := vulncmd.ScanInfo{Format: string(sum.Format), Tool: "trivy", ToolVersion: sum.TrivyVersion, Artifact: sum.Artifact, CreatedAt: sum.CreatedAt}
	if format == string(trivy.FormatLegacy) && sum.Format != trivy.FormatLegacy && err == nil {
		err = errors.New("the report is a SchemaVersion 2 object, not the legacy array format named")
	}
	return info, err
}

// scanImports hands the Trivy formats of POST /api/v1/imports and cspm
// import to the vulnerabilities module, and its answers back in the
// import's shape.
type scanImports struct{ h *vulncmd.Handlers }

func (s scanImports) Handles(format string) bool { return parsers.Registry{}.IsScanFormat(format) }

func (s scanImports) ImportScan(ctx context.Context, meta commands.Meta, format, fileName string, body io.Reader) (cscmd.ImportResult, error) {
	res, err := s.h.ImportScan(ctx, meta, vulncmd.ImportScan{Format: format, FileName: fileName, Body: body})
	out := cscmd.ImportResult{ImportID: res.ImportID, Status: res.Status, Format: res.Format, Tool: res.Tool, ToolVersion: res.ToolVersion,
		ContentHash: res.ContentHash, Size: res.Size, Reason: res.Reason, Events: res.Events, Position: res.Position, Duplicate: res.Duplicate,
		ArtifactID: res.ArtifactID, ScanCounts: res.Counts, Warnings: res.Warnings}
	if rej, ok := errors.AsType[*vulncmd.RejectedError](err); ok {
		_ = rej
		return out, &cscmd.RejectedError{Result: out}
	}
	return out, err
}
