// Package commands is the kit every module's command handlers share: the
// event-store port (EventStore, BatchStore), who sends a command (Meta),
// what an accepted one returns (Result, BatchResult), the machinery of a
// command (Kit: Create a stream, Update one with retries on conflict,
// idempotency, metadata, Load, Decode, AppendRequest), the stream-id
// conventions (ScanStreamID, FindingStreamID, the stream types),
// IDInUseError, and State, the audit replay of any stream.
//
// The handlers themselves live in one package per module, named like the
// module's domain/ and projections/ packages: commands/orchestration
// (scans), commands/cloudsecurity (findings, report imports),
// commands/platform (API keys). Each validates, loads the aggregate from
// its stream, lets the domain decide, and appends (docs/architecture.md §1).
package commands
