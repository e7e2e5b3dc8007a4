package api_test

import (
	"context"

	"github.com/cspm-es/cspm-es/commands"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/queries"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// fakeScanRuns is the scan-run service of the OpenAPI tests' deps.
type fakeScanRuns struct{}

func (fakeScanRuns) PlanScan(_ context.Context, _ commands.Meta, cmd orchcmd.PlanScan) (commands.Result, error) {
	id := cmd.ScanID
	if id == "" {
		id = "run-1"
	}
	return commands.Result{ID: id, StreamID: "scan-" + id, Version: 2, Position: 2, EventIDs: []string{"e1", "e2"}}, nil
}

func (fakeScanRuns) CancelScan(_ context.Context, _ commands.Meta, cmd orchcmd.CancelScan) (commands.Result, error) {
	return commands.Result{ID: cmd.ScanID, StreamID: "scan-" + cmd.ScanID, Version: 5, Position: 5, EventIDs: []string{"e5"}}, nil
}

func (fakeScanRuns) ListScanRuns(context.Context, string, queries.Page) (orchquery.ScanList, error) {
	return orchquery.ScanList{}, nil
}

func (fakeScanRuns) GetScanRun(_ context.Context, _, id string) (orchquery.ScanRunDetail, error) {
	return orchquery.ScanRunDetail{}, queries.NotFound("scan run", id)
}
