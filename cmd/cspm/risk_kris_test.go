package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// TestComputedKRI_OpenCriticalFindings: in the running app, a real
// Prowler 3.3 ASFF report (account 123456789012, three CRITICAL FAILED
// checks evaluated on 2023-03-18) is imported; a KRI of the account's
// open critical findings, defined afterwards, reads its history: 3 on the
// day of the evaluation, red (red from 3), carried to the next days, and
// its latest value and state. An acceptance by rule of one check then
// shows on GET /findings and mutes the finding in the KRI.
func TestComputedKRI_OpenCriticalFindings(t *testing.T) {
	t.Parallel()
	var observer *kriObserver
	a := startAppWith(t, nil, fx.Populate(&observer))
	res := a.importFile(t, "prowler_v3.3_asff_aws_subset.asff.json")
	require.Equal(t, "completed", res.Status)

	ans := must(t, a.post(t, "/api/v1/kris", map[string]any{"name": "critical findings of prod", "unit": "findings",
		"direction": "higher_is_worse", "amber": 1, "red": 3, "source": "open_critical_findings", "account": "123456789012"}), http.StatusCreated)
	var created api.CommandResult
	ans.data(t, &created)
	kriID, pos := created.ID, created.Position
	require.NotEmpty(t, kriID)

	var s riskquery.Series
	eventually(t, 30*time.Second, "the series at "+itoa(pos), func() bool {
		ans := a.get(t, "/api/v1/kris/"+kriID+"/series?from=2023-03-17T00:00:00Z&to=2023-03-21T00:00:00Z&granularity=day&min_position="+itoa(max(pos, res.Position)))
		if ans.status != http.StatusOK || stale(ans) {
			return false
		}
		ans.data(t, &s)
		return true
	})
	require.Len(t, s.Buckets, 4)
	assert.Nil(t, s.Buckets[0].Value, "before the evaluation: no value")
	day := s.Buckets[1]
	require.NotNil(t, day.Value)
	assert.Equal(t, 3.0, *day.Value, "the three CRITICAL FAILED checks")
	assert.Equal(t, "red", day.State)
	assert.True(t, day.Breach)
	assert.Equal(t, 1, day.Count)
	later := s.Buckets[3]
	require.NotNil(t, later.Value)
	assert.True(t, later.Carried)
	assert.Equal(t, 3.0, *later.Value)
	assert.False(t, later.Breach, "no measurement in the bucket")

	var k riskquery.KRI
	must(t, a.get(t, "/api/v1/kris/"+kriID), http.StatusOK).data(t, &k)
	require.NotNil(t, k.LastValue)
	assert.Equal(t, 3.0, *k.LastValue)
	assert.Equal(t, "red", k.State)
	assert.Equal(t, time.Date(2023, 3, 18, 15, 43, 31, 0, time.UTC), k.LastMeasuredAt.UTC())

	// The KRI observer records the breach; the dashboard (cspm_platform)
	// lists the computed KRI in breach.
	inBreach := func() map[string]any {
		var d struct {
			Risk struct {
				KRIsInBreach []map[string]any `json:"kris_in_breach_listed"`
			} `json:"risk"`
		}
		must(t, a.get(t, "/api/v1/dashboard/summary"), http.StatusOK).data(t, &d)
		for _, k := range d.Risk.KRIsInBreach {
			if k["id"] == kriID {
				return k
			}
		}
		return nil
	}
	observer.Sweep(t.Context())
	eventually(t, 30*time.Second, "the computed KRI in breach on the dashboard", func() bool { return inBreach() != nil })
	assert.Equal(t, 3.0, inBreach()["value"])
	assert.Zero(t, observer.Sweep(t.Context()), "observed already: nothing more to record")
	var audit struct {
		StreamType string `json:"stream_type"`
		State      struct {
			Observed struct {
				State string  `json:"state"`
				Value float64 `json:"value"`
			} `json:"observed"`
		} `json:"state"`
	}
	must(t, a.get(t, "/api/v1/audit/streams/kri-"+kriID+"/state"), http.StatusOK).data(t, &audit)
	assert.Equal(t, "KRI", audit.StreamType)
	assert.Equal(t, "red", audit.State.Observed.State, "the observation is in the KRI's history")

	// An acceptance by rule of one of the three checks: the finding shows
	// accepted on GET /findings, and the KRI falls to 2 at the acceptance.
	ans = must(t, a.post(t, "/api/v1/risk-acceptances", map[string]any{"scope": map[string]any{"rule": map[string]any{"module": "cloud_findings",
		"checks": []string{"iam_root_mfa_enabled"}, "accounts": []string{"123456789012"}}}, "reason": "break-glass account", "approver": "ciso",
		"expires_at": time.Now().Add(24 * time.Hour)}), http.StatusCreated)
	var acc api.CommandResult
	ans.data(t, &acc)
	var findings []csquery.Finding
	must(t, a.get(t, "/api/v1/findings?severity=critical&status=open&account_id=123456789012&min_position="+itoa(acc.Position)), http.StatusOK).data(t, &findings)
	require.Len(t, findings, 3)
	for _, f := range findings {
		assert.Equal(t, f.CheckID == "iam_root_mfa_enabled", f.Accepted, f.CheckID)
	}
	must(t, a.get(t, "/api/v1/kris/"+kriID+"?min_position="+itoa(acc.Position)), http.StatusOK).data(t, &k)
	require.NotNil(t, k.LastValue)
	assert.Equal(t, 2.0, *k.LastValue, "the accepted finding is muted")
	assert.Equal(t, "amber", k.State)

	// Amber now: observed, it leaves the dashboard's KRIs in breach.
	assert.Equal(t, 1, observer.Sweep(t.Context()))
	eventually(t, 30*time.Second, "the amber KRI off the dashboard's breaches", func() bool { return inBreach() == nil })
}
