// Package api is cspm's HTTP edge: an echo server with one response
// envelope, one error mapping (errors.go), a strict JSON decoder, the
// request-id / access-log / recovery / timeout / metrics middleware, and
// one route table (routes.go) whose handlers live in one file per module:
// routes_orchestration.go (scans), routes_cloudsecurity.go (findings),
// routes_platform.go (dashboard, API keys, audit), beside
// routes_system.go, routes_docs.go and routes_projections.go (projection
// and relay administration, through ProjectionAdmin). What every command
// route shares is in command.go; the query routes' strict query
// parameters, cursor pagination and read your writes (through
// ReadProgress) are in query.go.
//
// Handlers stay thin: decode the request, call the module's command or
// query service (the ports of ports.go), answer. Business rules live in
// commands, queries and domain; api only translates. It imports the
// commands and queries packages for their types, domain and eventstore
// for the error kinds it maps, and nothing that opens a database or the
// bus: the projector runtime reaches it through the ReadProgress and
// ProjectionAdmin ports, which cmd/cspm implements.
//
// The wire contract is documented in docs/http-api.md.
package api
