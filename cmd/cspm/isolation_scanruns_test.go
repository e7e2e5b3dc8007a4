package main

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/fx"
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
	return ids
}

// quietScanEngine keeps the scan engine from dispatching in the background
// (it sweeps at start, then hourly): team B's run, requested by the
// generated subtests, would otherwise be dispatched while a later subtest
// checks that nothing was appended. Runs stay planned; the routes read
// them all the same.
func quietScanEngine() fx.Option {
	return fx.Decorate(func(e *scanEngine) *scanEngine { e.Interval = time.Hour; return e })
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
