// Package parsers holds, one package per tool (parsers/prowler, ...), the
// parsers of external scanners' reports: pure functions from a report's
// bytes to domain inputs (domain/cloudsecurity.Observation). They are the
// anti-corruption layer between a tool's formats and the domain: every
// quirk of a tool (its casings, its time zones, its version drift) is
// absorbed here and named in the parser's documentation, so nothing past
// it needs to know the tool.
//
// A parser imports only the standard library and domain/... (tested here):
// no database, no HTTP, no bus. It streams, bounds what it keeps, and
// rejects a report it cannot read whole with an error naming where and
// why; the import decides what to do with it. See docs/parsers.md.
package parsers
