package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/api"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// isolationAccounts gives team A an account in each state the account
// routes tell apart: registered, retired, and seen only in an import (the
// pair's account, which isolationMutingWorld imported; it has no stream).
// It returns their ids in that order.
func isolationAccounts(t *testing.T, a *testApp, asA []string) []string {
	t.Helper()
	var registered, retired api.CommandResult
	must(t, a.call(t, http.MethodPost, "/api/v1/accounts", map[string]any{"provider": "aws", "uid": "999900001111",
		"name": "iso-account-registered"}, asA...), http.StatusCreated).data(t, &registered)
	must(t, a.call(t, http.MethodPost, "/api/v1/accounts", map[string]any{"provider": "gcp", "uid": "iso-project-2",
		"name": "iso-account-retired"}, asA...), http.StatusCreated).data(t, &retired)
	must(t, a.call(t, http.MethodPost, "/api/v1/accounts/"+retired.ID+"/retire", nil, asA...), http.StatusAccepted)
	seen := csdomain.AccountID("team-a", "aws", pt.PairAccount)
	eventually(t, 30*time.Second, "the accounts are projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/accounts/"+seen+"?min_position="+itoa(retired.Position+1), nil, asA...)
		return ans.status == http.StatusOK && !stale(ans)
	})
	return []string{registered.ID, retired.ID, seen}
}
