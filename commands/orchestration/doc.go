// Package orchestration holds the orchestration module's command handlers:
// the scan run's commands (RequestScan, StartScan, CompleteScan, FailScan)
// on ScanRun streams ("scan-<scan_id>"), over the domain rules of
// domain/orchestration. They run on the shared kit of package commands.
package orchestration
