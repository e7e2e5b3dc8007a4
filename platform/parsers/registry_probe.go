package parsers

import (
	"context"
	"io"
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/probe"
)

// The worker's built-in checks (platform/probes) write cspm-probe-json
// reports: findings of the cloud-security pipeline (tool cspm-probe,
// identity rule cspm-probe/v1), named (?format=cspm-probe-json, or
// "cspm-probe") or detected.

func probeFormat(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	return n == probe.Format || n == probe.Tool
}

func parseProbe(ctx context.Context, r io.Reader, emit func(cloudsecurity.Observation) error) (Info, error) {
	sum, err := probe.Parse(ctx, r, emit)
	return Info{Format: probe.Format, Tool: probe.Tool, ToolVersion: sum.ToolVersion}, err
}
