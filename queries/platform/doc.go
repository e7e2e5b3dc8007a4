// Package platform holds the platform module's queries, read from
// cspm_platform (the read models of projections/platform): the team's
// dashboard (DashboardSummary), its API keys (ListKeys), and the audit
// queries (Audit: the audit log, and the stream views and verify that read
// the event store itself). They use the shared kit of package queries.
package platform
