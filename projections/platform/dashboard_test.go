package platform_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/platform"
)

func request(id string, d time.Duration) orchdomain.ScanRequested {
	return orchdomain.ScanRequested{ScanID: id, AccountID: "acc-" + id, Provider: orchdomain.ProviderAWS, Tool: "prowler", RequestedAt: at(d)}
}

func start(id string) orchdomain.ScanStarted {
	return orchdomain.ScanStarted{ScanID: id, StartedAt: at(time.Hour)}
}

func complete(id string) orchdomain.ScanCompleted {
	return orchdomain.ScanCompleted{ScanID: id, CompletedAt: at(2 * time.Hour), ResourceCount: 3}
}

func fail(id string) orchdomain.ScanFailed {
	return orchdomain.ScanFailed{ScanID: id, Reason: "boom", FailedAt: at(2 * time.Hour)}
}

func raise(id, scan string, sev csdomain.Severity) csdomain.FindingRaised {
	return csdomain.FindingRaised{FindingID: id, ScanID: scan, AccountID: "acc", CheckID: "c", Title: "t", Severity: sev, ResourceID: "r", RaisedAt: at(time.Hour)}
}

func resolve(id string) csdomain.FindingResolved {
	return csdomain.FindingResolved{FindingID: id, Reason: "fixed", ResolvedAt: at(3 * time.Hour)}
}

func suppress(id string) csdomain.FindingSuppressed {
	return csdomain.FindingSuppressed{FindingID: id, Reason: "ok", SuppressedAt: at(2 * time.Hour)}
}

// sequence gives every event its own stream and the positions 1, 2, ...
func sequence(team string, data ...eventData) []projections.Event {
	out := make([]projections.Event, len(data))
	for i, d := range data {
		out[i] = stream(team, positions(int64(i+1)), d)[0]
	}
	return out
}

func sev(c, h, m, l, i int64) map[string]any {
	return map[string]any{"critical": c, "high": h, "medium": m, "low": l, "informational": i}
}

func recent(id, status string, d time.Duration) map[string]any {
	return map[string]any{"scan_id": id, "status": status, "tool": "prowler", "account_id": "acc-" + id, "requested_at": at(d)}
}

func TestDashboardContract(t *testing.T) {
	t.Parallel()
	p := platform.NewDashboard()
	assert.Equal(t, "platform.dashboard", p.Name())
	assert.Equal(t, dbregistry.PLATFORM, p.Database())
	assert.ElementsMatch(t, []string{
		"ScanRequested", "ScanStarted", "ScanCompleted", "ScanFailed",
		"FindingRaised", "FindingResolved", "FindingSuppressed",
		"ResultsRecorded", "ImportCompleted", // the posture section
		"ImportStarted", "ChecksDescribed", // its compliance per framework
		"AssessmentCreated", "RequirementAnswered", "AssessmentRescheduled", "AssessmentClosed", // assessments in progress
		// The risk section (dashboard_risk.go).
		"RiskIdentified", "RiskDescribed", "RiskScored", "RiskClosed", "KRIDefined", "KRIMeasured", "KRIRetired", "ComputedKRIObserved",
		"RiskAccepted", "RiskAcceptanceRevoked", "RiskAcceptanceExpired", "AcceptedItemFixed",
	}, p.EventTypes())
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
		if spec.Name != platform.DashboardScansCollection && spec.Name != platform.DashboardFindingsCollection {
			continue // the posture's rows and fold documents are kept
		}
		for _, ix := range spec.Indexes {
			assert.Equal(t, 180*24*time.Hour, ix.TTL, "the dashboard's indexes are TTLs on its internal rows")
		}
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []eventData
		then  readmodel.Doc
	}{
		{
			name:  "scans by status and recent scans",
			given: []eventData{request("s1", 0), request("s2", time.Minute), start("s2"), request("s3", 2*time.Minute), start("s3"), complete("s3"), request("s4", 3*time.Minute), fail("s4")},
			then: readmodel.Doc{
				"scans_total":     int64(4),
				"scans_by_status": map[string]any{"requested": int64(1), "running": int64(1), "completed": int64(1), "failed": int64(1)},
				"recent_scans": []any{
					recent("s4", "failed", 3*time.Minute), recent("s3", "completed", 2*time.Minute),
					recent("s2", "running", time.Minute), recent("s1", "requested", 0),
				},
				"updated_position": int64(8),
			},
		},
		{
			name: "findings by severity and status; resolve and suppress move them",
			given: []eventData{
				raise("f1", "s1", csdomain.SeverityCritical), raise("f2", "s1", csdomain.SeverityHigh),
				raise("f3", "s1", csdomain.SeverityHigh), raise("f4", "s2", csdomain.SeverityLow),
				raise("f5", "s2", csdomain.SeverityInformational), raise("f6", "s2", csdomain.SeverityMedium),
				resolve("f1"), suppress("f2"), suppress("f3"), resolve("f3"), suppress("f3"),
			},
			then: readmodel.Doc{
				"findings_total":            int64(6),
				"findings_by_severity":      sev(1, 2, 1, 1, 1),
				"findings_by_status":        map[string]any{"open": int64(3), "resolved": int64(2), "suppressed": int64(1)},
				"open_findings_by_severity": sev(0, 0, 1, 1, 1),
				"updated_position":          int64(11),
			},
		},
		{
			name:  "a status before its raise is held until the raise (defensive)",
			given: []eventData{suppress("f1"), raise("f1", "s1", csdomain.SeverityHigh)},
			then: readmodel.Doc{
				"findings_total":            int64(1),
				"findings_by_severity":      sev(0, 1, 0, 0, 0),
				"findings_by_status":        map[string]any{"open": int64(0), "resolved": int64(0), "suppressed": int64(1)},
				"open_findings_by_severity": sev(0, 0, 0, 0, 0),
				"updated_position":          int64(2),
			},
		},
		{
			name:  "a scan step before its request counts the scan once (defensive)",
			given: []eventData{start("s1"), request("s1", 0)},
			then: readmodel.Doc{
				"scans_total":      int64(1),
				"scans_by_status":  map[string]any{"requested": int64(0), "running": int64(1), "completed": int64(0), "failed": int64(0)},
				"recent_scans":     []any{recent("s1", "running", 0)},
				"updated_position": int64(2),
			},
		},
		{
			name:  "a second raise is not counted twice (defensive)",
			given: []eventData{raise("f1", "s1", csdomain.SeverityLow), raise("f1", "s1", csdomain.SeverityLow)},
			then: readmodel.Doc{
				"findings_total":            int64(1),
				"findings_by_severity":      sev(0, 0, 0, 1, 0),
				"findings_by_status":        map[string]any{"open": int64(1), "resolved": int64(0), "suppressed": int64(0)},
				"open_findings_by_severity": sev(0, 0, 0, 1, 0),
				"updated_position":          int64(1),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tx := apply(t, platform.NewDashboard(), sequence("team-a", tc.given...)...)
			want := emptyDashboard("team-a")
			for k, v := range tc.then {
				want[k] = v
			}
			assert.Equal(t, want, tx.Doc(t, platform.DashboardCollection, "team-a"))
		})
	}
}

func emptyDashboard(team string) readmodel.Doc {
	return readmodel.Doc{
		"_id": team, "team_id": team, "scans_total": int64(0),
		"scans_by_status":           map[string]any{"requested": int64(0), "running": int64(0), "completed": int64(0), "failed": int64(0)},
		"findings_total":            int64(0),
		"findings_by_severity":      sev(0, 0, 0, 0, 0),
		"findings_by_status":        map[string]any{"open": int64(0), "resolved": int64(0), "suppressed": int64(0)},
		"open_findings_by_severity": sev(0, 0, 0, 0, 0),
		"recent_scans":              []any{},
		"posture":                   noPosture(),
	}
}

// noPosture is the posture section of a team without imports.
func noPosture() map[string]any {
	return map[string]any{"open_total": int64(0), "open_muted_by_tool": int64(0), "open_by_severity": sev(0, 0, 0, 0, 0),
		"by_account": []any{}, "by_check": []any{}, "last_scan": nil, "days": []any{}, "latest_day": "",
		"compliance": []any{}}
}

func TestDashboardKeepsTheTenLatestScans(t *testing.T) {
	t.Parallel()
	var given []eventData
	// s0..s13 requested a minute apart, out of order; s1 (soon dropped) and
	// s12 (kept) advance afterwards.
	for _, i := range []int{5, 0, 13, 1, 7, 12, 3, 9, 2, 11, 4, 8, 6, 10} {
		given = append(given, request(fmt.Sprintf("s%d", i), time.Duration(i)*time.Minute))
	}
	given = append(given, start("s1"), start("s12"), complete("s12"))
	tx := apply(t, platform.NewDashboard(), sequence("team-a", given...)...)
	d := tx.Doc(t, platform.DashboardCollection, "team-a")
	var want []any
	for i := 13; i >= 4; i-- {
		status := "requested"
		if i == 12 {
			status = "completed"
		}
		want = append(want, recent(fmt.Sprintf("s%d", i), status, time.Duration(i)*time.Minute))
	}
	assert.Equal(t, want, d["recent_scans"])
	assert.Equal(t, int64(14), d["scans_total"])
}

func TestDashboardInternalRows(t *testing.T) {
	t.Parallel()
	tx := apply(t, platform.NewDashboard(), sequence("team-a",
		request("s1", 0), start("s1"), complete("s1"), raise("f1", "s1", csdomain.SeverityHigh), resolve("f1"))...)
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/s1", "team_id": "team-a", "scan_id": "s1", "requested": true, "status": "completed",
		"tool": "prowler", "account_id": "acc-s1", "requested_at": t0, "finished_at": at(2 * time.Hour), "updated_position": int64(3),
	}, tx.Doc(t, platform.DashboardScansCollection, "team-a/s1"))
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/f1", "team_id": "team-a", "raised": true, "scan_id": "s1", "severity": "high",
		"status": "resolved", "resolved_at": at(3 * time.Hour), "updated_position": int64(5),
	}, tx.Doc(t, platform.DashboardFindingsCollection, "team-a/f1"))
}

// TestDashboardTeamIsolation: two teams, even naming the same ids, get
// separate dashboards and rows; events without a team are ignored.
func TestDashboardTeamIsolation(t *testing.T) {
	t.Parallel()
	var events []projections.Event
	events = append(events, stream("team-a", positions(1, 2), request("s1", 0), start("s1"))...)
	events = append(events, stream("team-a", positions(3), raise("f1", "s1", csdomain.SeverityCritical))...)
	events = append(events, stream("team-b", positions(4), request("s1", time.Minute))...)
	events = append(events, stream("team-b", positions(5, 6), raise("f1", "s1", csdomain.SeverityLow), resolve("f1"))...)
	events = append(events, stream("", positions(7), request("s9", 0))...)
	tx := apply(t, platform.NewDashboard(), events...)

	a, b := emptyDashboard("team-a"), emptyDashboard("team-b")
	a["scans_total"], a["scans_by_status"] = int64(1), map[string]any{"requested": int64(0), "running": int64(1), "completed": int64(0), "failed": int64(0)}
	a["recent_scans"], a["findings_total"], a["findings_by_severity"] = []any{recent("s1", "running", 0)}, int64(1), sev(1, 0, 0, 0, 0)
	a["findings_by_status"] = map[string]any{"open": int64(1), "resolved": int64(0), "suppressed": int64(0)}
	a["open_findings_by_severity"], a["updated_position"] = sev(1, 0, 0, 0, 0), int64(3)
	b["scans_total"], b["scans_by_status"] = int64(1), map[string]any{"requested": int64(1), "running": int64(0), "completed": int64(0), "failed": int64(0)}
	b["recent_scans"], b["findings_total"], b["findings_by_severity"] = []any{recent("s1", "requested", time.Minute)}, int64(1), sev(0, 0, 0, 1, 0)
	b["findings_by_status"] = map[string]any{"open": int64(0), "resolved": int64(1), "suppressed": int64(0)}
	b["updated_position"] = int64(6)
	assert.Equal(t, a, tx.Doc(t, platform.DashboardCollection, "team-a"))
	assert.Equal(t, b, tx.Doc(t, platform.DashboardCollection, "team-b"))
	assert.Len(t, tx.Colls[platform.DashboardCollection], 2)
	for _, coll := range tx.Colls {
		for _, d := range coll {
			assert.NotEmpty(t, d["team_id"])
		}
	}
}

// TestDashboardOrderIndependent: 14 scans of two teams (more than the
// recent list holds) with their findings, in hundreds of interleavings.
func TestDashboardOrderIndependent(t *testing.T) {
	t.Parallel()
	sevs := []csdomain.Severity{csdomain.SeverityCritical, csdomain.SeverityHigh, csdomain.SeverityMedium, csdomain.SeverityLow, csdomain.SeverityInformational}
	var streams [][]projections.Event
	pos := int64(0)
	next := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			pos++
			out[i] = pos
		}
		return out
	}
	for s := range 14 {
		team := []string{"team-a", "team-b"}[s%7/6] // s6 and s13 are team-b's
		id := fmt.Sprintf("s%d", s)
		evs := []eventData{request(id, time.Duration(s%5)*time.Minute)} // equal times: the id breaks ties
		switch s % 3 {
		case 1:
			evs = append(evs, start(id))
		case 2:
			evs = append(evs, start(id), []eventData{complete(id), fail(id)}[s%2])
		}
		streams = append(streams, stream(team, next(len(evs)), evs...))
		for f := range 3 {
			fid := fmt.Sprintf("f%d-%d", s, f)
			evs := []eventData{raise(fid, id, sevs[(s+f)%len(sevs)])}
			switch (s + f) % 4 {
			case 1:
				evs = append(evs, resolve(fid))
			case 2:
				evs = append(evs, suppress(fid), resolve(fid))
			case 3:
				evs = append(evs, suppress(fid), suppress(fid))
			}
			streams = append(streams, stream(team, next(len(evs)), evs...))
		}
	}
	assertOrderIndependent(t, platform.NewDashboard(), streams)
}
