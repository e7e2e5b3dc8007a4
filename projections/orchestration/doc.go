// Package orchestration holds the projections that write the orchestration
// module database (dbregistry.ORCHESTRATION, cspm_orchestration):
//
//   - ScanRuns ("orchestration.scan_runs"): one document per scan in
//     scan_runs, from the ScanRun events.
//   - ScanSummaries ("orchestration.scan_summaries"): the severity and
//     status counts of the findings raised in each scan, in scan_summaries,
//     a cross-module view fed by the ScanRun events and the Finding events
//     of the cloud-security module. Its internal collection
//     scan_finding_index remembers, per finding, the scan, severity and
//     status the counts were built from.
//
// Both converge whatever order their source streams interleave in
// (invariant 6); docs/read-models.md gives the argument.
package orchestration
