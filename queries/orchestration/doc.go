// Package orchestration holds the orchestration module's queries: the
// team's scans (ListScans) and one scan with the counts of its findings
// (GetScan), read from cspm_orchestration (scan_runs, scan_summaries), the
// read models of projections/orchestration. They use the shared kit of
// package queries.
package orchestration
