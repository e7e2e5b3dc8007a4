// Package probe is the report format of the worker's built-in checks
// (platform/probes: security headers of an HTTP(S) target, TLS of a
// host:port) and its parser: the anti-corruption layer between a probe's
// report and the cloud-security Observation pipeline.
//
// The format, "cspm-probe-json" version 1 (docs/probes.md), is one JSON
// document: what was probed, when, how (redirects followed, protocols
// offered), and one result per check (and per cookie for the cookie
// checks). The probes write it with Write; Parse reads it back into
// observations of tool "cspm-probe", provider "web" or "tls", account the
// normalized target, region "", check the check id and resource the target
// (or, for a cookie check, "cookie:<name>"). Pure: no I/O but the reader
// it is given.
package probe
