// Package api is cspm's HTTP edge: an echo server with one response
// envelope, one error mapping (errors.go), a strict JSON decoder, the
// request-id / access-log / recovery / timeout / metrics middleware, the
// system routes, the command routes, the query routes (strict query
// parameters, cursor pagination, read your writes through ReadProgress)
// and the projection routes (through ProjectionAdmin).
//
// Handlers stay thin: decode the request, call the command or query
// service, answer. Business rules live in commands, queries and domain;
// api only translates. It imports commands and queries for their types,
// domain and eventstore for the error kinds it maps, and nothing that opens
// a database or the bus: the projector runtime reaches it through the
// ReadProgress and ProjectionAdmin ports, which cmd/cspm implements.
//
// The wire contract is documented in docs/http-api.md.
package api
