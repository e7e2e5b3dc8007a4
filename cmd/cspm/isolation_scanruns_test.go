package main

import (
	"net/http"
	"testing"
	"time"

	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// isolationScanRuns gives team A two scan runs of jobs, one cancelled, and
// returns their ids (scan ids: a run is a scan of its own).
func isolationScanRuns(t *testing.T, a *testApp, asA []string) []string {
	t.Helper()
	ids := []string{"iso-run-a", "iso-run-a-cancelled"}
	for _, id := range ids {
		must(t, a.call(t, http.MethodPost, "/api/v1/scan-runs", map[string]any{"scan_id": id, "account_id": "iso-web", "provider": "other",
			"tools": []string{"iso-no-such-tool"}, "targets": []string{"https://iso-a.example"}}, asA...), http.StatusCreated)
	}
	ans := must(t, a.call(t, http.MethodPost, "/api/v1/scan-runs/"+ids[1]+"/cancel", nil, asA...), http.StatusAccepted)
	eventually(t, 30*time.Second, "the scan runs are projected", func() bool {
		got := a.call(t, http.MethodGet, "/api/v1/scan-runs/"+ids[1]+"?min_position="+itoa(ans.env.Meta.Position), nil, asA...)
		return got.status == http.StatusOK && !stale(got)
	})
	// The scan engine dispatches the open run's job in the background (no
	// worker has its tool, so it then stays dispatched): wait for it, so
	// that team A's views do not move after the test has read them.
	eventually(t, 30*time.Second, "the open run's job is dispatched", func() bool {
		var run orchquery.ScanRunDetail
		got := a.call(t, http.MethodGet, "/api/v1/scan-runs/"+ids[0], nil, asA...)
		if got.status != http.StatusOK {
			return false
		}
		got.data(t, &run)
		return len(run.Jobs) == 1 && run.Jobs[0].Status == "dispatched"
	})
	return ids
}

// isolationScanRunBodies gives the isolation test a valid body for each
// scan-run route that needs one.
func isolationScanRunBodies() map[string]any {
	return map[string]any{
		"requestScanRun": map[string]any{"scan_id": "iso-run-b", "account_id": "iso-web-b", "provider": "other",
			"tools": []string{"iso-no-such-tool"}, "targets": []string{"https://iso-b.example"}},
	}
}

// isolationScanRunRequest is team B's request for a run under a chosen id
// (a run's id is a scan id the caller chooses).
func isolationScanRunRequest(id string) any {
	return map[string]any{"scan_id": id, "account_id": "iso-web-b", "provider": "other",
		"tools": []string{"iso-no-such-tool"}, "targets": []string{"https://iso-b.example"}}
}
