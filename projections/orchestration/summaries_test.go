package orchestration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/orchestration"
)

func raise(id, scan string, sev csdomain.Severity) csdomain.FindingRaised {
	return csdomain.FindingRaised{FindingID: id, ScanID: scan, AccountID: "acc-1", CheckID: "check", Title: "t", Severity: sev, ResourceID: "r", RaisedAt: at(30 * time.Minute)}
}

func resolve(id string) csdomain.FindingResolved {
	return csdomain.FindingResolved{FindingID: id, Reason: "fixed", ResolvedAt: at(2 * time.Hour)}
}

func suppress(id string) csdomain.FindingSuppressed {
	return csdomain.FindingSuppressed{FindingID: id, Reason: "accepted", SuppressedAt: at(90 * time.Minute)}
}

type counts struct {
	total                      int64
	crit, high, med, low, info int64
	open, resolved, suppressed int64
}

func (c counts) apply(d readmodel.Doc) {
	d["findings_total"] = c.total
	d["severity_counts"] = map[string]any{"critical": c.crit, "high": c.high, "medium": c.med, "low": c.low, "informational": c.info}
	d["status_counts"] = map[string]any{"open": c.open, "resolved": c.resolved, "suppressed": c.suppressed}
}

// summaryDoc is the summary of s1 in team-a after requested, with c.
func summaryDoc(c counts, change func(readmodel.Doc)) readmodel.Doc {
	d := readmodel.Doc{
		"_id": "team-a/s1", "team_id": "team-a", "scan_id": "s1", "account_id": "acc-1", "provider": "aws",
		"tool": "prowler", "status": "requested", "requested_at": t0, "finished_at": nil,
	}
	c.apply(d)
	if change != nil {
		change(d)
	}
	return d
}

func TestScanSummariesContract(t *testing.T) {
	t.Parallel()
	p := orchestration.NewScanSummaries()
	assert.Equal(t, "orchestration.scan_summaries", p.Name())
	assert.Equal(t, dbregistry.ORCHESTRATION, p.Database())
	assert.ElementsMatch(t, []string{
		"ScanRequested", "ScanStarted", "ScanCompleted", "ScanFailed",
		"FindingRaised", "FindingResolved", "FindingSuppressed",
		"ResultsRecorded", "ImportCompleted",
		"MutingRuleCreated", "MutingRuleChanged", "MutingRuleRemoved", "MutingRuleExpired",
	}, p.EventTypes())
	assertSpecs(t, p)
}

func TestScanSummaries(t *testing.T) {
	t.Parallel()
	scanEvents := func(evs ...eventData) []projections.Event {
		return stream("team-a", []int64{1, 2, 3, 4}[:len(evs)], evs...)
	}
	// findings are streams of their own: f<i> at positions 10*i...
	finding := func(i int, evs ...eventData) []projections.Event {
		return stream("team-a", []int64{int64(10 * i), int64(10*i + 1), int64(10*i + 2)}[:len(evs)], evs...)
	}
	withPos := func(p int64) func(readmodel.Doc) { return func(d readmodel.Doc) { d["updated_position"] = p } }
	tests := []struct {
		name  string
		given [][]projections.Event
		then  readmodel.Doc
	}{
		{
			name:  "a scan without findings",
			given: [][]projections.Event{scanEvents(requested)},
			then:  summaryDoc(counts{}, withPos(1)),
		},
		{
			name:  "the scan's status and finish time merge in",
			given: [][]projections.Event{scanEvents(requested, started, completed)},
			then: summaryDoc(counts{}, func(d readmodel.Doc) {
				d["status"], d["finished_at"], d["updated_position"] = "completed", at(time.Hour), int64(3)
			}),
		},
		{
			name: "severity counts",
			given: [][]projections.Event{
				scanEvents(requested, started),
				finding(1, raise("f1", "s1", csdomain.SeverityCritical)),
				finding(2, raise("f2", "s1", csdomain.SeverityHigh)),
				finding(3, raise("f3", "s1", csdomain.SeverityHigh)),
				finding(4, raise("f4", "s1", csdomain.SeverityMedium)),
				finding(5, raise("f5", "s1", csdomain.SeverityLow)),
				finding(6, raise("f6", "s1", csdomain.SeverityInformational)),
			},
			then: summaryDoc(counts{total: 6, crit: 1, high: 2, med: 1, low: 1, info: 1, open: 6}, func(d readmodel.Doc) {
				d["status"], d["updated_position"] = "running", int64(60)
			}),
		},
		{
			name: "resolve and suppress move the status counts, not the severity counts",
			given: [][]projections.Event{
				scanEvents(requested),
				finding(1, raise("f1", "s1", csdomain.SeverityCritical), resolve("f1")),
				finding(2, raise("f2", "s1", csdomain.SeverityHigh), suppress("f2")),
				finding(3, raise("f3", "s1", csdomain.SeverityHigh), suppress("f3"), resolve("f3")),
				finding(4, raise("f4", "s1", csdomain.SeverityLow)),
			},
			then: summaryDoc(counts{total: 4, crit: 1, high: 2, low: 1, open: 1, resolved: 2, suppressed: 1}, withPos(40)),
		},
		{
			name: "suppressing again changes no count",
			given: [][]projections.Event{
				scanEvents(requested),
				finding(1, raise("f1", "s1", csdomain.SeverityHigh), suppress("f1"), suppress("f1")),
			},
			then: summaryDoc(counts{total: 1, high: 1, suppressed: 1}, withPos(12)),
		},
		{
			name: "findings before their scan: counts first, scan fields merge in later",
			given: [][]projections.Event{
				finding(1, raise("f1", "s1", csdomain.SeverityCritical), resolve("f1")),
				finding(2, raise("f2", "s1", csdomain.SeverityLow)),
				scanEvents(requested),
			},
			then: summaryDoc(counts{total: 2, crit: 1, low: 1, open: 1, resolved: 1}, withPos(20)),
		},
		{
			name: "a status before its raise is held until the raise (defensive)",
			given: [][]projections.Event{
				scanEvents(requested),
				stream("team-a", positions(11), resolve("f1")),
				stream("team-a", positions(10), raise("f1", "s1", csdomain.SeverityHigh)),
			},
			then: summaryDoc(counts{total: 1, high: 1, resolved: 1}, withPos(11)),
		},
		{
			name: "a second raise of the same finding is not counted twice (defensive)",
			given: [][]projections.Event{
				scanEvents(requested),
				finding(1, raise("f1", "s1", csdomain.SeverityHigh), raise("f1", "s1", csdomain.SeverityHigh)),
			},
			then: summaryDoc(counts{total: 1, high: 1, open: 1}, withPos(10)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var all []projections.Event
			for _, s := range tc.given {
				all = append(all, s...)
			}
			tx := apply(t, orchestration.NewScanSummaries(), all...)
			assert.Equal(t, tc.then, tx.Doc(t, orchestration.ScanSummariesCollection, "team-a/s1"))
		})
	}
}

func TestScanSummariesFindingIndex(t *testing.T) {
	t.Parallel()
	tx := apply(t, orchestration.NewScanSummaries(), append(
		stream("team-a", positions(10, 11), raise("f1", "s1", csdomain.SeverityHigh), resolve("f1")),
		stream("team-a", positions(20), suppress("f2"))...)...)
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/f1", "team_id": "team-a", "raised": true, "scan_id": "s1",
		"severity": "high", "status": "resolved", "resolved_at": at(2 * time.Hour), "updated_position": int64(11),
	}, tx.Doc(t, orchestration.FindingIndexCollection, "team-a/f1"))
	assert.Equal(t, readmodel.Doc{
		"_id": "team-a/f2", "team_id": "team-a", "status": "suppressed", "updated_position": int64(20),
	}, tx.Doc(t, orchestration.FindingIndexCollection, "team-a/f2"), "a status seen before the raise is recorded (not raised: the empty fields are not stored)")
	assert.Len(t, tx.Colls[orchestration.ScanSummariesCollection], 1)
}

// TestScanSummariesTeamIsolation: even events of two teams that name the
// same scan and finding ids build separate documents.
func TestScanSummariesTeamIsolation(t *testing.T) {
	t.Parallel()
	tx := apply(t, orchestration.NewScanSummaries(), append(
		append(stream("team-a", positions(1), requested),
			stream("team-a", positions(10), raise("f1", "s1", csdomain.SeverityCritical))...),
		append(stream("team-b", positions(20, 21), raise("f1", "s1", csdomain.SeverityLow), resolve("f1")),
			stream("team-b", positions(30), suppress("f9"))...)...)...)
	assert.Equal(t, summaryDoc(counts{total: 1, crit: 1, open: 1}, func(d readmodel.Doc) { d["updated_position"] = int64(10) }),
		tx.Doc(t, orchestration.ScanSummariesCollection, "team-a/s1"))
	assert.Equal(t, readmodel.Doc{
		"_id": "team-b/s1", "team_id": "team-b", "scan_id": "s1", "account_id": "", "provider": "", "tool": "",
		"status": "", "requested_at": nil, "finished_at": nil, "findings_total": int64(1),
		"severity_counts":  map[string]any{"critical": int64(0), "high": int64(0), "medium": int64(0), "low": int64(1), "informational": int64(0)},
		"status_counts":    map[string]any{"open": int64(0), "resolved": int64(1), "suppressed": int64(0)},
		"updated_position": int64(21),
	}, tx.Doc(t, orchestration.ScanSummariesCollection, "team-b/s1"))
	for _, coll := range tx.Colls {
		for id, d := range coll {
			assert.Regexp(t, "^"+d["team_id"].(string)+"/", id)
		}
	}
}

func TestKeyEscapesTheTeam(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "team-a/s1", orchestration.Key("team-a", "s1"))
	assert.NotEqual(t, orchestration.Key("a/b", "c"), orchestration.Key("a", "b/c"))
}

// TestScanSummariesOrderIndependent: three scans of two teams, their
// findings raised, suppressed and resolved, in hundreds of interleavings.
func TestScanSummariesOrderIndependent(t *testing.T) {
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
	for s, team := range []string{"team-a", "team-a", "team-b"} {
		scanID := fmt.Sprintf("s%d", s)
		streams = append(streams, stream(team, next(3),
			orchdomain.ScanRequested{ScanID: scanID, AccountID: "acc", Provider: orchdomain.ProviderAWS, Tool: "prowler", RequestedAt: at(time.Duration(s) * time.Hour)},
			orchdomain.ScanStarted{ScanID: scanID, StartedAt: at(time.Duration(s)*time.Hour + time.Minute)},
			orchdomain.ScanFailed{ScanID: scanID, Reason: "boom", FailedAt: at(time.Duration(s)*time.Hour + time.Hour)}))
		for f := range 6 {
			id := fmt.Sprintf("f%d-%d", s, f)
			evs := []eventData{raise(id, scanID, sevs[f%len(sevs)])}
			switch f % 3 {
			case 1:
				evs = append(evs, resolve(id))
			case 2:
				evs = append(evs, suppress(id), resolve(id))
			}
			streams = append(streams, stream(team, next(len(evs)), evs...))
		}
	}
	assertOrderIndependent(t, orchestration.NewScanSummaries(), streams)
}
