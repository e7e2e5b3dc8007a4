package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/queries"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// contractScanImports is cmd/cspm's scanImports (Trivy reports handed to
// the vulnerabilities module), for the contract env.
type contractScanImports struct{ h *vulncmd.Handlers }

func (s contractScanImports) Handles(format string) bool {
	return parsers.Registry{}.IsScanFormat(format)
}

func (s contractScanImports) ImportScan(ctx context.Context, meta commands.Meta, format, fileName string, body io.Reader) (cscmd.ImportResult, error) {
	res, err := s.h.ImportScan(ctx, meta, vulncmd.ImportScan{Format: format, FileName: fileName, Body: body})
	out := cscmd.ImportResult{ImportID: res.ImportID, Status: res.Status, Format: res.Format, Tool: res.Tool, ToolVersion: res.ToolVersion,
		ContentHash: res.ContentHash, Size: res.Size, Reason: res.Reason, Events: res.Events, Position: res.Position, Duplicate: res.Duplicate,
		ArtifactID: res.ArtifactID, ScanCounts: res.Counts, Warnings: res.Warnings}
	if _, ok := errors.AsType[*vulncmd.RejectedError](err); ok {
		return out, &cscmd.RejectedError{Result: out}
	}
	return out, err
}

// fakeVulnerabilities answers the vulnerability routes of fullDeps.
type fakeVulnerabilities struct{}

func (fakeVulnerabilities) ListImages(context.Context, string, vulnquery.ImageFilter, queries.Page) (vulnquery.ImageList, error) {
	return vulnquery.ImageList{}, nil
}

func (fakeVulnerabilities) GetImage(_ context.Context, _, digest string) (vulnquery.ImageDetail, error) {
	return vulnquery.ImageDetail{}, fmt.Errorf("image %q: %w", digest, queries.ErrNotFound)
}

func (fakeVulnerabilities) ListOccurrences(context.Context, string, vulnquery.OccurrenceFilter, queries.Page) (vulnquery.OccurrenceList, error) {
	return vulnquery.OccurrenceList{}, nil
}

func (fakeVulnerabilities) GetVulnerability(_ context.Context, _, id string) (vulnquery.VulnerabilityDetail, error) {
	return vulnquery.VulnerabilityDetail{}, fmt.Errorf("vulnerability %q: %w", id, queries.ErrNotFound)
}
