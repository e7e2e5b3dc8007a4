package queriestest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// StreamedEvent is an event and the stream it is appended to.
type StreamedEvent struct {
	Stream, Type, Team string
	Data               pt.EventData
}

// AssessmentsWorld is the assessments module's part of the runtime test's
// world: the real Prowler NIST CSF subset and NIST AI RMF catalogues, a
// mapping between them, an assessment of each (team-imports, the pair
// account: the imports' evidence) with an answer, one closed, and an
// import under way (the evidence's working documents).
func AssessmentsWorld(t testing.TB) []StreamedEvent {
	t.Helper()
	root := filepath.Join("..", "..", "platform", "parsers")
	f, err := os.Open(filepath.Join(root, "prowler", "testdata", "frameworks", "prowler_compliance_nist_csf_2.0_aws_subset.json"))
	require.NoError(t, err)
	defer f.Close()
	csf, err := prowler.ParseFramework(f)
	require.NoError(t, err)
	g, err := os.Open(filepath.Join(root, "cisoassistant", "testdata", "nist_ai_rmf_1.0_ciso-assistant-library.json"))
	require.NoError(t, err)
	defer g.Close()
	lib, err := cisoassistant.Parse(g)
	require.NoError(t, err)
	rmf := *lib.Catalogue
	csfRef := as.FrameworkRef{Framework: csf.Framework, Version: "c1"}
	rmfRef := as.FrameworkRef{Framework: rmf.Framework, Version: "1"}
	scope := as.Scope{Accounts: []string{pt.PairAccount}}
	const team = "team-imports"
	at := pt.T0.Add(48 * time.Hour)
	return []StreamedEvent{
		{"catalog-" + csf.Framework, "FrameworkCatalog", "team-admin", as.FrameworkVersionLoaded{Framework: csf.Framework, Version: "c1",
			Name: csf.Name, Source: csf.Source, ContentHash: "h1", Requirements: csf.Requirements, LoadedAt: pt.T0}},
		{"catalog-" + rmf.Framework, "FrameworkCatalog", "team-admin", as.FrameworkVersionLoaded{Framework: rmf.Framework, Version: "1",
			Name: rmf.Name, Source: rmf.Source, ContentHash: "h2", Requirements: rmf.Requirements, LoadedAt: pt.T0}},
		{"reqmapping-rmf-csf", "RequirementMapping", "team-admin", as.RequirementMappingLoaded{MappingID: "rmf-csf", Source: rmfRef, Target: csfRef,
			Pairs: []as.RequirementPair{{Source: "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1", Target: "ds_6"}}, ContentHash: "m1", LoadedAt: pt.T0}},
		{"assessment-as-csf", "Assessment", team, as.AssessmentCreated{AssessmentID: "as-csf", Name: "CSF", Framework: csfRef,
			Requirements: as.AssessedRequirements(csf.Requirements), Scope: scope, AsOf: at, CreatedAt: pt.T0}},
		{"assessment-as-csf", "Assessment", team, as.RequirementAnswered{AssessmentID: "as-csf", RequirementID: "ds_6", Status: as.Compliant, AnsweredAt: pt.T0}},
		{"assessment-as-rmf", "Assessment", team, as.AssessmentCreated{AssessmentID: "as-rmf", Name: "RMF", Framework: rmfRef,
			Requirements: as.AssessedRequirements(rmf.Requirements), Scope: scope, AsOf: at, CreatedAt: pt.T0}},
		{"assessment-as-rmf", "Assessment", team, as.AssessmentRescheduled{AssessmentID: "as-rmf", AsOf: at.Add(time.Hour), Scope: scope, ChangedAt: pt.T0}},
		{"assessment-as-rmf", "Assessment", team, as.AssessmentClosed{AssessmentID: "as-rmf", ClosedAt: pt.T0}},
		{"import-imp-assess-underway", "Import", team, csdomain.ResultsRecorded{ImportID: "imp-assess-underway", ScanID: "scan-underway",
			EvaluatedAt: pt.T0, IdentityRule: csdomain.IdentityProwlerV1,
			Results: []csdomain.CheckResult{pt.Result("cloudtrail_log_file_validation_enabled", "eu-west-1", pt.RealTrail, csdomain.ResultPass, csdomain.SeverityMedium)}}},
	}
}
