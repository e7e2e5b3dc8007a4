// Package queries answers the read side's questions from the read models
// the projections maintain, never from the event store and never by joining
// databases at query time (docs/architecture.md §1):
//
//   - ListScans and GetScan read cspm_orchestration (scan_runs, and
//     scan_summaries for a scan's finding counts: two reads of one database);
//   - ListFindings reads cspm_cloud_security (findings);
//   - DashboardSummary reads cspm_platform (dashboard_summaries).
//
// Every query is scoped to the caller's team (invariant 9): lists filter on
// team_id, and a document of another team reads as ErrNotFound, exactly
// like one that does not exist. Bad filters are *domain.ValidationError
// naming the query parameter. The result types carry snake_case JSON tags:
// they are the HTTP response bodies.
package queries
