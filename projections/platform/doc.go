// Package platform holds the projections that write the platform module
// database (dbregistry.PLATFORM, cspm_platform):
//
//   - Dashboard ("platform.dashboard"): one dashboard_summaries document
//     per team (scans by status, findings by severity and status, the ten
//     most recently requested scans), maintained incrementally from the
//     ScanRun and Finding events with the help of two internal
//     collections of per-scan and per-finding state rows.
//   - AuditLog ("platform.audit_log"): one audit_log entry per accepted
//     command (actor, route, idempotency key, positions, streams), from
//     every event type.
//   - APIKeys ("platform.api_keys"): one api_keys document per API key
//     (name, team, role, status; never its salt or hash), for listing.
//
// They converge whatever order their source streams interleave in
// (invariant 6); docs/read-models.md gives the argument.
package platform

import (
	"net/url"
)

// Projection names (stable: they name the consumers and checkpoints).
const (
	DashboardName = "platform.dashboard"
)

// Collections of the platform module database.
const (
	// DashboardCollection holds one document per team, _id the team id.
	DashboardCollection = "dashboard_summaries"
	// DashboardScansCollection and DashboardFindingsCollection are
	// internal to Dashboard: what its counts hold for each scan and finding.
	DashboardScansCollection    = "dashboard_scans"
	DashboardFindingsCollection = "dashboard_findings"
)

// RecentScans is how many scans the dashboard lists.
const RecentScans = 10

// Key is the _id of a document that belongs to one team's view of id: the
// team (path-escaped, so it holds no '/') and id joined by '/'. Events of
// one team can never change another team's document, even if they name the
// same id.
func Key(team, id string) string { return url.PathEscape(team) + "/" + id }
