// Package queries is what every module's queries share: the read-model
// ports they read through (DocGetter, DocFinder, DocReader), pages and
// cursors (Page, Find), the errors (ErrNotFound, ErrNoTeam), the readers
// of read-model fields, and the counts several modules' answers carry.
//
// The queries themselves live in one package per module, named like the
// module's domain/, commands/ and projections/ packages, each reading its
// own module database:
//
//   - queries/orchestration: ListScans and GetScan read cspm_orchestration
//     (scan_runs, and scan_summaries for a scan's finding counts: two
//     reads of one database);
//   - queries/cloudsecurity: ListFindings reads cspm_cloud_security
//     (findings);
//   - queries/platform: DashboardSummary and ListKeys read cspm_platform
//     (dashboard_summaries, api_keys), and the audit queries (the audit
//     log, stream history, verify).
//
// They answer from the read models the projections maintain, never from
// the event store (the audit stream views and verify excepted) and never
// by joining databases at query time (docs/architecture.md §1). Every
// query is scoped to the caller's team (invariant 9): lists filter on
// team_id, and a document of another team reads as ErrNotFound, exactly
// like one that does not exist. Bad filters are *domain.ValidationError
// naming the query parameter. The result types carry snake_case JSON tags:
// they are the HTTP response bodies.
package queries
