// Package probes is the worker's built-in tools: checks that need no
// external program (decision 64). Each writes a cspm-probe-json report
// (platform/parsers/probe, docs/probes.md) that the worker imports like
// any report: POST /api/v1/imports?format=cspm-probe-json.
//
//   - "headers": the security headers of an HTTP(S) target
//     (platform/probes/headers);
//   - "tls": the TLS of a host:port (platform/probes/tlscheck).
package probes

import (
	"context"
	"fmt"
	"io"

	"github.com/cspm-es/cspm-es/platform/parsers/probe"
	"github.com/cspm-es/cspm-es/platform/probes/headers"
	"github.com/cspm-es/cspm-es/platform/probes/tlscheck"
)

// BuiltinTool runs one check of target and writes its report to out; an
// error (the target unreachable, the deadline) writes nothing. It is an
// alias of the plain func type, so a worker's own named type of the same
// shape takes these values as they are.
type BuiltinTool = func(ctx context.Context, target string, out io.Writer) error

// ToolVersion is written in every report ("cspm-probe <format version>.<catalogue revision>").
const ToolVersion = "1.0"

// Options of the built-in tools.
type Options struct {
	Headers headers.Options
	TLS     tlscheck.Options
}

// Names of the built-in tools.
const (
	NameHeaders = probe.ProbeHeaders
	NameTLS     = probe.ProbeTLS
)

// Builtins returns the built-in tools by name: "headers" and "tls".
func Builtins(opts Options) map[string]BuiltinTool {
	if opts.Headers.ToolVersion == "" {
		opts.Headers.ToolVersion = ToolVersion
	}
	if opts.TLS.ToolVersion == "" {
		opts.TLS.ToolVersion = ToolVersion
	}
	return map[string]BuiltinTool{
		NameHeaders: func(ctx context.Context, target string, out io.Writer) error {
			rep, err := headers.Probe(ctx, target, opts.Headers)
			if err != nil {
				return fmt.Errorf("headers %s: %w", target, err)
			}
			return probe.Write(out, rep)
		},
		NameTLS: func(ctx context.Context, target string, out io.Writer) error {
			rep, err := tlscheck.Probe(ctx, target, opts.TLS)
			if err != nil {
				return fmt.Errorf("tls %s: %w", target, err)
			}
			return probe.Write(out, rep)
		},
	}
}
