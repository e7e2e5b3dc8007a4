package assessments_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
	pa "github.com/cspm-es/cspm-es/projections/assessments"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

const (
	team    = "team-a"
	account = pt.PairAccount
	csfID   = "nist-csf-2.0-aws"
	rmfID   = "nist-ai-rmf-1.0"
	govern  = "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1"
	// Checks of the CSF subset: ds_6 has only log file validation; pt_1
	// has it and KMS encryption among others.
	validation = "cloudtrail_log_file_validation_enabled"
	kms        = "cloudtrail_kms_encryption_enabled"
)

var (
	csfRef = as.FrameworkRef{Framework: csfID, Version: "c1"}
	rmfRef = as.FrameworkRef{Framework: rmfID, Version: "1"}
	asOf   = pt.At(5 * time.Hour)
)

func csfLoaded(t testing.TB) as.FrameworkVersionLoaded {
	f, err := os.Open("../../platform/parsers/prowler/testdata/frameworks/prowler_compliance_nist_csf_2.0_aws_subset.json")
	require.NoError(t, err)
	defer f.Close()
	c, err := prowler.ParseFramework(f)
	require.NoError(t, err)
	return as.FrameworkVersionLoaded{Framework: c.Framework, Version: "c1", Name: c.Name, Source: c.Source, ContentHash: "h1", Requirements: c.Requirements, LoadedAt: pt.T0}
}

func rmfLoaded(t *testing.T) as.FrameworkVersionLoaded {
	f, err := os.Open("../../platform/parsers/cisoassistant/testdata/nist_ai_rmf_1.0_ciso-assistant-library.json")
	require.NoError(t, err)
	defer f.Close()
	lib, err := cisoassistant.Parse(f)
	require.NoError(t, err)
	c := lib.Catalogue
	return as.FrameworkVersionLoaded{Framework: c.Framework, Version: "1", Name: c.Name, Source: c.Source, ContentHash: "h2", Requirements: c.Requirements, LoadedAt: pt.T0}
}

func created(id string, fw as.FrameworkRef, at time.Time, reqs []as.Requirement) as.AssessmentCreated {
	return as.AssessmentCreated{AssessmentID: id, Name: id, Framework: fw, Requirements: as.AssessedRequirements(reqs),
		Scope: as.Scope{Accounts: []string{account}}, AsOf: at, CreatedAt: pt.T0}
}

func scan(name string, hour int, validationResult, kmsResult csdomain.Result) []pt.EventData {
	return pt.ImportEvents(name, hour, 1,
		pt.Result(validation, "eu-west-1", pt.RealTrail, validationResult, csdomain.SeverityMedium),
		pt.Result(kms, "eu-west-1", pt.RealTrail, kmsResult, csdomain.SeverityMedium))
}

func evidence(t *testing.T, tx *pt.MemTx, id string) as.EvidenceView {
	t.Helper()
	d := tx.Doc(t, pa.EvidenceCollection, id)
	var v as.EvidenceView
	require.NoError(t, json.Unmarshal([]byte(d["body"].(string)), &v))
	return v
}

func requirement(t *testing.T, v as.EvidenceView, id string) as.RequirementEvidence {
	t.Helper()
	for _, r := range v.Requirements {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no requirement %s", id)
	return as.RequirementEvidence{}
}

// world: the CSF catalogue, an assessment of it as of T0+5h, scans at
// T0+1h (validation fails), T0+3h (passes) and T0+8h (fails again, after
// the date).
func world(t *testing.T) (catalog, assessment, s1, s2, s3 []pt.EventData) {
	cat := csfLoaded(t)
	return []pt.EventData{cat}, []pt.EventData{created("as-1", csfRef, asOf, cat.Requirements)},
		scan("scan-1", 1, csdomain.ResultFail, csdomain.ResultFail),
		scan("scan-2", 3, csdomain.ResultPass, csdomain.ResultFail),
		scan("scan-3", 8, csdomain.ResultFail, csdomain.ResultFail)
}

func streams(t *testing.T, parts ...[]pt.EventData) [][]projectionsEvent {
	t.Helper()
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
	return pt.OnlyStreams(pa.NewEvidence(), out)
}

func TestEvidence_AsOfTheAssessmentDate(t *testing.T) {
	cat, asm, s1, s2, s3 := world(t)
	ss := streams(t, cat, asm, s1, s2)
	tx := pt.Apply(t, pa.NewEvidence(), concat(ss)...)
	v := evidence(t, tx, "as-1")
	require.True(t, v.Catalogue)
	require.Equal(t, 27, v.Counts.Requirements)
	ds6 := requirement(t, v, "ds_6")
	require.Equal(t, as.EvidencePass, ds6.Status, "scan 2 (T0+3h) is in force at T0+5h")
	require.Equal(t, []string{validation}, ds6.Checks)
	pt1 := requirement(t, v, "pt_1")
	require.Equal(t, as.EvidenceFail, pt1.Status, "KMS fails in scan 2")
	require.Len(t, pt1.Failing, 1)
	require.Equal(t, "scan-2", pt1.Failing[0].ScanID)
	require.Len(t, pt1.Failing[0].Findings, 1)
	require.Equal(t, as.EvidenceNoChecks, requirement(t, v, "oc_1").Status)
	require.Equal(t, 2, v.Revision, "it rests on scans 1 and 2")
	require.Equal(t, []bool{false, true}, []bool{v.Sources[0].Selected, v.Sources[1].Selected})

	// A scan evaluated after the date changes nothing.
	before := tx.Doc(t, pa.EvidenceCollection, "as-1")
	later := streams(t, cat, asm, s1, s2, s3)
	tx = pt.Apply(t, pa.NewEvidence(), concat(later)...)
	require.Equal(t, before, tx.Doc(t, pa.EvidenceCollection, "as-1"))

	// Moving the date to after scan 3 takes it.
	moved := append(concat(later), pt.Stream(team, []int64{100}, as.AssessmentRescheduled{AssessmentID: "as-1",
		AsOf: pt.At(9 * time.Hour), Scope: as.Scope{Accounts: []string{account}}})...)
	tx = pt.Apply(t, pa.NewEvidence(), moved...)
	v = evidence(t, tx, "as-1")
	require.Equal(t, as.EvidenceFail, requirement(t, v, "ds_6").Status)
	require.Equal(t, 3, v.Revision)
}

func TestEvidence_LateImportRevises(t *testing.T) {
	cat, asm, s1, s2, s3 := world(t)
	base := concat(streams(t, cat, asm, s1, s2, s3))
	// A report of a scan at T0+4h imported last: it is the one in force at T0+5h.
	late := pt.Stream(team, []int64{200, 201, 202, 203}, scan("scan-late", 4, csdomain.ResultFail, csdomain.ResultPass)...)
	tx := pt.Apply(t, pa.NewEvidence(), append(base, pt.Only(pa.NewEvidence(), late)...)...)
	v := evidence(t, tx, "as-1")
	require.Equal(t, as.EvidenceFail, requirement(t, v, "ds_6").Status)
	require.Equal(t, 3, v.Revision, "revised: scans 1, 2 and the late one")
	last := v.Sources[len(v.Sources)-1]
	require.Equal(t, "imp-scan-late", last.ImportID)
	require.True(t, last.EvaluatedAt.Before(pt.At(5*time.Hour)))
	require.Equal(t, int64(203), last.Position)
}

func TestEvidence_MappedRequirements(t *testing.T) {
	cat, asm, s1, s2, _ := world(t)
	rmf := rmfLoaded(t)
	mapping := as.RequirementMappingLoaded{MappingID: "rmf-to-csf", Source: rmfRef, Target: csfRef,
		Pairs: []as.RequirementPair{{Source: govern, Target: "ds_6", Relationship: as.RelIntersect}}, ContentHash: "m1"}
	rmfAsm := created("as-2", rmfRef, asOf, rmf.Requirements)
	answer := as.RequirementAnswered{AssessmentID: "as-1", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.T0}
	ss := streams(t, cat, []pt.EventData{rmf}, []pt.EventData{mapping}, append(asm, answer), []pt.EventData{rmfAsm}, s1, s2)
	tx := pt.Apply(t, pa.NewEvidence(), concat(ss)...)
	v := evidence(t, tx, "as-2")
	g := requirement(t, v, govern)
	require.Equal(t, as.EvidencePass, g.Status, "ds_6's check counts for GOVERN 1.1")
	require.Equal(t, []string{validation}, g.Checks)
	require.Len(t, g.Mapped, 1)
	require.Equal(t, []as.MappedAnswer{{AssessmentID: "as-1", Status: "compliant"}}, g.Mapped[0].Answers)
	require.Equal(t, 1, v.Counts.MappedAnswer)
	require.Equal(t, 71, v.Counts.NoChecks)
	// And the other way: the CSF assessment lists GOVERN 1.1 as mapped.
	require.Equal(t, govern, requirement(t, evidence(t, tx, "as-1"), "ds_6").Mapped[0].Requirement)

	pt.AssertOrderIndependent(t, pa.NewEvidence(), ss)
}

func TestEvidence_OrderIndependent(t *testing.T) {
	cat, asm, s1, s2, s3 := world(t)
	late := scan("scan-late", 4, csdomain.ResultFail, csdomain.ResultPass)
	resched := []pt.EventData{as.AssessmentRescheduled{AssessmentID: "as-1", AsOf: pt.At(9 * time.Hour), Scope: as.Scope{Accounts: []string{account, "other"}}}}
	pt.AssertOrderIndependent(t, pa.NewEvidence(), streams(t, cat, append(asm, resched...), s1, s2, s3, late))
}

// A scope may name the cloud accounts module's id of the account
// (acc-...): the same evidence, whether the assessment or the import comes first.
func TestEvidence_CloudAccountID(t *testing.T) {
	cat, asm, s1, s2, _ := world(t)
	byID := asm[0].(as.AssessmentCreated)
	byID.AssessmentID = "as-by-id"
	byID.Scope = as.Scope{Accounts: []string{csdomain.AccountID(team, "aws", account)}}
	ss := streams(t, cat, asm, []pt.EventData{byID}, s1, s2)
	tx := pt.Apply(t, pa.NewEvidence(), concat(ss)...)
	a, b := evidence(t, tx, "as-1"), evidence(t, tx, "as-by-id")
	require.Equal(t, a.Requirements, b.Requirements)
	require.Equal(t, a.Revision, b.Revision)
	require.Equal(t, as.EvidencePass, requirement(t, b, "ds_6").Status)
	pt.AssertOrderIndependent(t, pa.NewEvidence(), ss)
}

func TestEvidence_TeamIsolation(t *testing.T) {
	cat, asm, s1, s2, _ := world(t)
	ss := streams(t, cat, asm, s1)
	// Team B's import of the same account id is not team A's evidence.
	other := pt.Stream("team-b", []int64{300, 301, 302, 303}, s2...)
	tx := pt.Apply(t, pa.NewEvidence(), append(concat(ss), pt.Only(pa.NewEvidence(), other)...)...)
	v := evidence(t, tx, "as-1")
	require.Equal(t, as.EvidenceFail, requirement(t, v, "ds_6").Status, "only team A's scan 1")
	require.Equal(t, 1, v.Revision)
	require.Equal(t, team, tx.Doc(t, pa.EvidenceCollection, "as-1")["team_id"])
}
