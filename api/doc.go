// Package api is cspm's HTTP edge: an echo server with one response
// envelope, one error mapping (errors.go), a strict JSON decoder, the
// request-id / access-log / recovery / timeout / metrics middleware, the
// system routes and the command routes.
//
// Handlers stay thin: decode the request, call the command service, answer.
// Business rules live in commands and domain; api only translates. It
// imports commands for the command and result types, domain and eventstore
// for the error kinds it maps, and nothing that opens a database.
//
// The wire contract is documented in docs/http-api.md.
package api
