package cloudsecurity_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

// cis50 is the CIS-5.0 mapping of the CloudTrail checks as Prowler 5.34's
// unmapped.compliance gives it in the real before/after pair (docs/compliance.md).
var cis50 = map[string][]string{
	"cloudtrail_multi_region_enabled":        {"3.1"},
	"cloudtrail_log_file_validation_enabled": {"3.2"},
	"cloudtrail_kms_encryption_enabled":      {"3.5"},
	"cloudtrail_s3_dataevents_read_enabled":  {"3.9"},
}

// withMapping gives an import's checks their CIS-5.0 mapping.
func withMapping(events []eventData) []eventData {
	out := slices.Clone(events)
	for i, e := range out {
		if cd, ok := e.(csdomain.ChecksDescribed); ok {
			cd.Checks = slices.Clone(cd.Checks)
			for j := range cd.Checks {
				if ids := cis50[cd.Checks[j].CheckID]; ids != nil {
					cd.Checks[j].Compliance = map[string][]string{"CIS-5.0": ids}
				}
			}
			out[i] = cd
		}
	}
	return out
}

// reqStatuses reads an evaluation's requirement statuses.
func reqStatuses(d map[string]any) map[string]string {
	out := map[string]string{}
	rows, _ := d["requirements"].(string)
	for _, r := range csdomain.DecodeRequirementRows(rows) {
		out[r.ID] = string(r.Status)
	}
	return out
}

// snapshot is an evaluation's score document with its requirements.
func snapshot(t *testing.T, tx *projectionstest.MemTx, team, importID, account, fw string) map[string]any {
	t.Helper()
	id := csdomain.ComplianceSnapshotID(team, importID, account, fw)
	d := maps.Clone(tx.Doc(t, cloudsecurity.ComplianceScoresCollection, id))
	d["requirements"] = tx.Doc(t, cloudsecurity.ComplianceRequirementsCollection, id)["requirements"]
	return d
}

// importOf turns a Prowler sample into the events of its import, as the
// import command makes them (checks, results, completion).
func importOf(t *testing.T, path, scan string) []eventData {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	checks := map[string]csdomain.CheckInfo{}
	var results []csdomain.CheckResult
	var scope csdomain.ImportScope
	_, err = prowler.Parse(context.Background(), f, prowler.FormatOCSF, func(o csdomain.Observation) error {
		r, err := csdomain.ResultOf(o)
		if err != nil {
			return err
		}
		c, err := csdomain.CheckInfoOf(o)
		if err != nil {
			return err
		}
		c.CheckID = o.CheckID
		checks[o.CheckID] = c
		results = append(results, r)
		scope.Add(r)
		return nil
	})
	require.NoError(t, err)
	var infos []csdomain.CheckInfo
	for _, c := range checks {
		infos = append(infos, c)
	}
	slices.SortFunc(infos, func(a, b csdomain.CheckInfo) int { return cmpStr(a.CheckID, b.CheckID) })
	at := projectionstest.T0
	imp := "imp-" + scan
	return []eventData{
		csdomain.ImportStarted{ImportID: imp, ScanID: scan, Format: string(prowler.FormatOCSF), StartedAt: at},
		csdomain.ChecksDescribed{ImportID: imp, EvaluatedAt: at, Checks: infos},
		csdomain.ResultsRecorded{ImportID: imp, ScanID: scan, EvaluatedAt: at, IdentityRule: csdomain.IdentityProwlerV1, Results: results},
		csdomain.ImportCompleted{ImportID: imp, ScanID: scan, EvaluatedAt: at, IdentityRule: csdomain.IdentityProwlerV1, Scopes: scope.Scopes()},
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The real Prowler 5.4 AWS sample (DefectDojo's, BSD-3-Clause): three
// results on one account, accessanalyzer_enabled FAIL, contact details
// MANUAL, different contact details FAIL.
func TestCompliance_ProwlerSampleStatuses(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewCompliance()
	tx := apply(t, p, stream("team-a", positions(1, 2, 3, 4), importOf(t, "../../platform/parsers/prowler/testdata/prowler_v5.4_ocsf_aws_placeholders.ocsf.json", "s1")...)...)
	const acc = "<account_uid>"
	// CIS-1.4: 1.20 (accessanalyzer_enabled) fails; 1.1 (contact details) is manual.
	cis := snapshot(t, tx, "team-a", "imp-s1", acc, "CIS-1.4")
	assert.Equal(t, map[string]string{"1.1": "manual", "1.20": "fail"}, reqStatuses(cis))
	assert.Equal(t, map[string]any{"requirements": int64(2), "passed": int64(0), "failed": int64(1), "manual": int64(1),
		"not_evaluated": int64(0), "muted_fail": int64(0)}, cis["counts"])
	assert.Equal(t, 0.0, cis["score"], "0 / (0 + 1): the manual requirement is not a pass")
	// KISA-ISMS-P-2023: 2.1.3 has a MANUAL and a FAIL result: it fails;
	// 2.5.6, 2.6.4, 2.8.1, 2.8.2 (accessanalyzer_enabled) fail.
	kisa := snapshot(t, tx, "team-a", "imp-s1", acc, "KISA-ISMS-P-2023")
	assert.Equal(t, map[string]string{"2.1.3": "fail", "2.5.6": "fail", "2.6.4": "fail", "2.8.1": "fail", "2.8.2": "fail"}, reqStatuses(kisa))
	assert.Equal(t, true, kisa["current"])
}

func pair(team string) (s1, s2 []projections.Event) {
	streams, _ := imports(team, 1, withMapping(scan1()), withMapping(scan2()))
	return streams[0], streams[1]
}

// The pair shaped like Prowler 5.34's real CloudTrail hardening: scan 1
// fails 3.1 in three regions; scan 2 passes 3.1 and 3.2 and fails 3.5 and
// 3.9.
func TestCompliance_AsOfScanOneDoesNotChange(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewCompliance()
	s1, s2 := pair("team-a")
	tx1 := apply(t, p, s1...)
	first := snapshot(t, tx1, "team-a", "imp-scan-1", acct, "CIS-5.0")
	assert.Equal(t, map[string]string{"3.1": "fail"}, reqStatuses(first))
	assert.Equal(t, 0.0, first["score"])
	assert.Equal(t, true, first["current"])
	assert.Nil(t, first["valid_to"])

	tx := apply(t, p, slices.Concat(s1, s2)...)
	again := snapshot(t, tx, "team-a", "imp-scan-1", acct, "CIS-5.0")
	for _, k := range []string{"requirements", "counts", "score", "at", "scan_id"} {
		assert.Equal(t, first[k], again[k], "scan 1's %s does not change when scan 2 arrives", k)
	}
	second := snapshot(t, tx, "team-a", "imp-scan-2", acct, "CIS-5.0")
	assert.Equal(t, second["at"], again["valid_to"], "scan 1 is valid until scan 2")
	assert.Equal(t, false, again["current"])
	assert.Equal(t, map[string]string{"3.1": "pass", "3.2": "pass", "3.5": "fail", "3.9": "fail"}, reqStatuses(second))
	assert.Equal(t, 0.5, second["score"])
	assert.Equal(t, true, second["current"])

	// The team's overview counts the current evaluation only.
	ov := tx.Doc(t, cloudsecurity.ComplianceOverviewCollection, csdomain.ComplianceOverviewID("team-a"))
	fws := fold.Objs(ov, "frameworks")
	require.Len(t, fws, 1)
	assert.Equal(t, int64(1), fws[0]["accounts"])
	assert.Equal(t, int64(2), fold.Num(fold.Obj(fws[0], "counts"), "passed"))
	assert.Equal(t, 0.5, fws[0]["score"])

	// The moved findings of 3.1: scan 1's three failures, none in scan 2.
	f1 := tx.Doc(t, cloudsecurity.ComplianceFailingCollection, csdomain.ComplianceFailingID("team-a", "imp-scan-1", acct, "cloudtrail_multi_region_enabled"))
	assert.Equal(t, int64(3), f1["count"])
	_, found := tx.Colls[cloudsecurity.ComplianceFailingCollection][csdomain.ComplianceFailingID("team-a", "imp-scan-2", acct, "cloudtrail_multi_region_enabled")]
	assert.False(t, found)
}

func TestCompliance_MutingRuleLeavesScoresUnchanged(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewCompliance()
	s1, s2 := pair("team-a")
	want := apply(t, p, slices.Concat(s1, s2)...).Colls
	rule := stream("team-a", positions(100), csdomain.MutingRuleCreated{RuleID: "mr-1", Name: "all cloudtrail",
		Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_kms_encryption_enabled"}}, Reason: "accepted", CreatedAt: t0.Add(3 * time.Hour)})
	// The runtime delivers a projection only the events it listens to: a
	// muting rule created between the scans reaches it as nothing.
	assert.Empty(t, projectionstest.Only(p, rule))
	for _, typ := range []string{csdomain.MutingRuleCreated{}.EventType(), csdomain.MutingRuleChanged{}.EventType(),
		csdomain.MutingRuleRemoved{}.EventType(), csdomain.MutingRuleExpired{}.EventType()} {
		assert.NotContains(t, p.EventTypes(), typ)
	}
	tx := apply(t, p, slices.Concat(s1, projectionstest.Only(p, rule), s2)...)
	assert.Equal(t, want, tx.Colls)
	assert.Equal(t, "fail", reqStatuses(snapshot(t, tx, "team-a", "imp-scan-2", acct, "CIS-5.0"))["3.5"], "the muted check still fails 3.5")
}

func TestCompliance_TeamIsolation(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewCompliance()
	a1, _ := pair("team-a")
	streams, _ := imports("team-b", 100, withMapping(scan2()))
	tx := apply(t, p, slices.Concat(a1, streams[0])...)
	for coll, docs := range tx.Colls {
		for id, d := range docs {
			assert.NotEmpty(t, d["team_id"], "%s/%s", coll, id)
		}
	}
	a := snapshot(t, tx, "team-a", "imp-scan-1", acct, "CIS-5.0")
	assert.Equal(t, map[string]string{"3.1": "fail"}, reqStatuses(a), "team b's later scan is not team a's")
	assert.Equal(t, true, a["current"])
}

func TestCompliance_OrderIndependent(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewCompliance()
	other := func(events []eventData) []eventData {
		out := slices.Clone(events)
		for i, e := range out {
			switch v := e.(type) {
			case csdomain.ResultsRecorded:
				v.ImportID = "imp-o-" + v.ScanID
				v.Results = slices.Clone(v.Results)
				for j := range v.Results {
					v.Results[j].Account = "999999999999"
				}
				out[i] = v
			case csdomain.ChecksDescribed:
				v.ImportID = "imp-o-" + v.ImportID[4:]
				out[i] = v
			case csdomain.ImportCompleted:
				v.ImportID = "imp-o-" + v.ScanID
				v.Scopes = nil
				out[i] = v
			}
		}
		return out
	}
	// Prowler's compliance report of scan 2, dated an hour later (local
	// time): paired with scan 2's findings evaluation.
	report := append([]eventData{csdomain.ImportStarted{ImportID: "imp-report", ScanID: "scan-report",
		Format: csdomain.ComplianceReportFormat, FileName: "out_cis_5.0_aws.csv", StartedAt: t0}}, withMapping(scan2())...)
	for i, e := range report {
		switch v := e.(type) {
		case csdomain.ChecksDescribed:
			v.ImportID = "imp-report"
			report[i] = v
		case csdomain.ResultsRecorded:
			v.ImportID, v.ScanID, v.EvaluatedAt = "imp-report", "scan-report", v.EvaluatedAt.Add(time.Hour)
			report[i] = v
		case csdomain.ImportCompleted:
			v.ImportID, v.ScanID, v.EvaluatedAt = "imp-report", "scan-report", v.EvaluatedAt.Add(time.Hour)
			report[i] = v
		}
	}
	streams, _ := imports("team-a", 1, withMapping(scan1()), withMapping(scan2()), other(withMapping(scan2())), other(withMapping(scan1())), report)
	assertOrderIndependent(t, p, streams)
	tx := apply(t, p, slices.Concat(streams...)...)
	assert.Equal(t, true, snapshot(t, tx, "team-a", "imp-report", acct, "CIS-5.0")["paired"])
	assert.Equal(t, true, snapshot(t, tx, "team-a", "imp-scan-2", acct, "CIS-5.0")["paired"])
	assert.Equal(t, true, snapshot(t, tx, "team-a", "imp-scan-1", acct, "CIS-5.0")["paired"], "two hours earlier, within the window too (the query compares the nearest)")
	assert.Nil(t, snapshot(t, tx, "team-a", "imp-o-scan-2", "999999999999", "CIS-5.0")["paired"], "no report of that account")
	assert.Equal(t, "compliance_report", snapshot(t, tx, "team-a", "imp-report", acct, "CIS-5.0")["source"])
	ov := tx.Doc(t, cloudsecurity.ComplianceOverviewCollection, csdomain.ComplianceOverviewID("team-a"))
	fws := fold.Objs(ov, "frameworks")
	require.Len(t, fws, 1)
	assert.Equal(t, int64(2), fws[0]["accounts"])
	assert.Equal(t, int64(4), fold.Num(fold.Obj(fws[0], "counts"), "passed"), "both accounts' scan 2 (the report of the first's)")
}
