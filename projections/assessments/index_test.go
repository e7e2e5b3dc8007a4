package assessments_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	pa "github.com/cspm-es/cspm-es/projections/assessments"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// mappedScan is a scan whose checks map to CIS-5.0 (as Prowler reports do).
func mappedScan(name string, hour int, r csdomain.Result) []pt.EventData {
	evs := scan(name, hour, r, r)
	d := evs[0].(csdomain.ChecksDescribed)
	for i := range d.Checks {
		d.Checks[i].Compliance = map[string][]string{"CIS-5.0": {"3." + d.Checks[i].CheckID[:1]}}
	}
	evs[0] = d
	return evs
}

func indexStreams(t *testing.T, parts ...[]pt.EventData) [][]projectionsEvent {
	var out [][]projectionsEvent
	pos := int64(1)
	for _, p := range parts {
		ps := make([]int64, len(p))
		for i := range ps {
			ps[i] = pos
			pos++
		}
		out = append(out, pt.Stream(team, ps, p...))
	}
	return pt.OnlyStreams(pa.NewIndex(), out)
}

func TestIndex_UnifiedView(t *testing.T) {
	cat := csfLoaded(t)
	asm := []pt.EventData{created("as-1", csfRef, asOf, cat.Requirements),
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.At(time.Hour)}}
	ss := indexStreams(t, asm, mappedScan("scan-1", 1, csdomain.ResultFail), mappedScan("scan-2", 3, csdomain.ResultPass))
	tx := pt.Apply(t, pa.NewIndex(), concat(ss)...)
	a := tx.Doc(t, pa.IndexCollection, "assessment/as-1")
	require.Equal(t, "assessment", a["kind"])
	require.Equal(t, int64(3), a["progress"], "1 of 27 answered")
	require.Equal(t, "open", a["status"])
	var compliance []map[string]any
	for _, d := range tx.Colls[pa.IndexCollection] {
		if d["kind"] == pa.KindCloudCompliance {
			compliance = append(compliance, d)
		}
	}
	require.Len(t, compliance, 1, "one account, one framework")
	require.Equal(t, "CIS-5.0", compliance[0]["framework"])
	require.Equal(t, 1.0, compliance[0]["score"], "the latest scan (scan 2) passes")
	pt.AssertOrderIndependent(t, pa.NewIndex(), ss)
}

func TestAssessments_ReadModel(t *testing.T) {
	cat := csfLoaded(t)
	evs := []pt.EventData{cat, created("as-1", csfRef, asOf, cat.Requirements),
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.NonCompliant, Comment: "no validation", AnsweredAt: pt.At(time.Hour)},
		as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.At(2 * time.Hour)}}
	ps := []int64{1, 2, 3, 4}
	tx := pt.Apply(t, pa.NewAssessments(), pt.Stream(team, ps, evs...)...)
	f := tx.Doc(t, pa.FrameworksCollection, csfID)
	require.Equal(t, "c1", f["latest_version"])
	require.Equal(t, int64(27), f["assessable"])
	d := tx.Doc(t, pa.AssessmentsCollection, "as-1")
	require.Equal(t, int64(1), d["answered"])
	require.Equal(t, int64(27), d["requirements"])
	ans := tx.Doc(t, pa.AnswersCollection, "as-1")
	var p as.Progress
	require.NoError(t, json.Unmarshal([]byte(ans["progress"].(string)), &p))
	require.Equal(t, 1, p.ByStatus[as.Compliant])
	require.Equal(t, 0, p.ByStatus[as.NonCompliant], "the later answer replaced it")
	require.Len(t, p.Sections, 4)
}
