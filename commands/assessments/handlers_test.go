package assessments_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	acmd "github.com/cspm-es/cspm-es/commands/assessments"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers"
)

type catalogs struct{}

func (catalogs) ParseCatalog(ctx context.Context, r io.Reader) (acmd.Parsed, error) {
	c, err := parsers.Registry{}.ParseCatalog(ctx, r)
	return acmd.Parsed{Catalogue: c.Catalogue, Mappings: c.Mappings}, err
}

var (
	admin = commands.Meta{TeamID: "team-a", Actor: "admin"}
	other = commands.Meta{TeamID: "team-b", Actor: "bob"}
)

const (
	nistAI = "../../platform/parsers/cisoassistant/testdata/nist_ai_rmf_1.0_ciso-assistant-library.json"
	euAI   = "../../platform/parsers/cisoassistant/testdata/eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json"
	csf    = "../../platform/parsers/prowler/testdata/frameworks/prowler_compliance_nist_csf_2.0_aws_subset.json"
)

func load(t *testing.T, h *acmd.Handlers, meta commands.Meta, path, version string) acmd.CatalogLoadResult {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	res, err := h.LoadCatalog(t.Context(), meta, acmd.LoadCatalog{FileName: path, Version: version, Body: f})
	require.NoError(t, err)
	return res
}

func TestLoadCatalog_RealFiles(t *testing.T) {
	d := commandstest.New(t)
	h := acmd.New(d.Kit, catalogs{})
	for _, tc := range []struct {
		path, framework, version string
		nodes, assessable        int
	}{
		{nistAI, "nist-ai-rmf-1.0", "1", 113, 72},
		{euAI, "ai-act", "2", 101, 88},
		{csf, "nist-csf-2.0-aws", "", 27, 27},
	} {
		res := load(t, h, admin, tc.path, "")
		require.NotNil(t, res.Framework)
		require.Equal(t, tc.framework, res.Framework.Framework)
		if tc.version != "" {
			require.Equal(t, tc.version, res.Framework.Version)
		} else {
			require.Regexp(t, `^c-[0-9a-f]{12}$`, res.Framework.Version, "named by its content")
		}
		require.Equal(t, acmd.Loaded, res.Framework.Status)
		require.Equal(t, tc.nodes, res.Framework.Requirements)
		require.Equal(t, tc.assessable, res.Framework.Assessable)
		// The same file again appends nothing.
		head := d.Head(t)
		again := load(t, h, other, tc.path, "")
		require.Equal(t, acmd.Unchanged, again.Framework.Status)
		require.Equal(t, head, d.Head(t))
	}
	// Another team reads the public catalogue.
	v, err := h.Version(t.Context(), "nist-ai-rmf-1.0", "")
	require.NoError(t, err)
	require.Len(t, v.Requirements, 113)
	// The same file as another version is a new version.
	res := load(t, h, admin, csf, "2025-q1")
	require.Equal(t, "2025-q1", res.Framework.Version)
	require.Equal(t, acmd.Loaded, res.Framework.Status)
}

func TestLoadCatalog_Refused(t *testing.T) {
	d := commandstest.New(t)
	h := acmd.New(d.Kit, catalogs{})
	head := d.Head(t)
	_, err := h.LoadCatalog(t.Context(), admin, acmd.LoadCatalog{Body: stringsReader(`{"hello":1}`)})
	commandstest.RequireFields(t, err, "file")
	// A mapping between frameworks not loaded.
	_, err = h.LoadCatalog(t.Context(), admin, acmd.LoadCatalog{Body: stringsReader(`{"objects":{"requirement_mapping_set":{"urn":"urn:x:m:m1",
		"source_framework_urn":"urn:x:framework:ai-act","target_framework_urn":"urn:x:framework:nist-ai-rmf-1.0",
		"requirement_mappings":[{"source_requirement_urn":"a","target_requirement_urn":"b","relationship":"equal"}]}}}`)})
	commandstest.RequireFields(t, err, "mappings[0].source")
	require.Equal(t, head, d.Head(t), "nothing appended")
}

func TestLoadMapping(t *testing.T) {
	d := commandstest.New(t)
	h := acmd.New(d.Kit, catalogs{})
	load(t, h, admin, nistAI, "")
	load(t, h, admin, euAI, "")
	mapping := func(target string) string {
		return `{"objects":{"requirement_mapping_set":{"urn":"urn:x:m:ai-act-to-rmf",
		"source_framework_urn":"urn:intuitem:risk:framework:ai-act","target_framework_urn":"urn:intuitem:risk:framework:nist-ai-rmf-1.0",
		"requirement_mappings":[{"source_requirement_urn":"urn:intuitem:risk:req_node:ai-act:9.1","target_requirement_urn":"` + target + `","relationship":"intersect"}]}}}`
	}
	head := d.Head(t)
	_, err := h.LoadCatalog(t.Context(), admin, acmd.LoadCatalog{Body: stringsReader(mapping("urn:nope"))})
	commandstest.RequireFields(t, err, "pairs[0].target")
	require.Equal(t, head, d.Head(t))
	res, err := h.LoadCatalog(t.Context(), admin, acmd.LoadCatalog{Body: stringsReader(mapping("urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1"))})
	require.NoError(t, err)
	require.Len(t, res.Mappings, 1)
	m := res.Mappings[0]
	require.Equal(t, acmd.LoadedMapping{ID: "ai-act-to-rmf", Source: as.FrameworkRef{Framework: "ai-act", Version: "2"},
		Target: as.FrameworkRef{Framework: "nist-ai-rmf-1.0", Version: "1"}, Pairs: 1, Status: acmd.Loaded, Position: m.Position}, m,
		"pinned to the versions loaded")
}

func TestAssessmentCommands(t *testing.T) {
	d := commandstest.New(t)
	h := acmd.New(d.Kit, catalogs{})
	v := load(t, h, admin, csf, "").Framework.Version
	asOf := commandstest.T0.Add(-24 * time.Hour)
	res, err := h.CreateAssessment(t.Context(), admin, acmd.CreateAssessment{Name: "CSF Q1", Framework: "nist-csf-2.0-aws",
		Scope: as.Scope{Accounts: []string{"111122223333"}}, AsOf: &asOf})
	require.NoError(t, err)
	events := d.Decoded(t, acmd.AssessmentStreamID(res.ID))
	created := events[0].(as.AssessmentCreated)
	require.Equal(t, as.FrameworkRef{Framework: "nist-csf-2.0-aws", Version: v}, created.Framework, "the latest version, named")
	require.Len(t, created.Requirements, 27)
	require.Equal(t, asOf, created.AsOf)

	_, err = h.CreateAssessment(t.Context(), admin, acmd.CreateAssessment{Name: "x", Framework: "nope"})
	commandstest.RequireFields(t, err, "framework")

	ans := acmd.AnswerRequirement{AssessmentID: res.ID, RequirementID: "ds_6", Status: as.Compliant, Evidence: []string{"doc-1"}}
	r1, err := h.AnswerRequirement(t.Context(), admin, ans)
	require.NoError(t, err)
	require.Len(t, r1.EventIDs, 1)
	r2, err := h.AnswerRequirement(t.Context(), admin, ans)
	require.NoError(t, err)
	require.Empty(t, r2.EventIDs, "the same answer appends nothing")
	require.Equal(t, r1.Version, r2.Version)

	// Another team sees no such assessment.
	_, err = h.AnswerRequirement(t.Context(), other, ans)
	require.ErrorIs(t, err, domain.ErrNotFound)

	_, err = h.CloseAssessment(t.Context(), admin, acmd.CloseAssessment{AssessmentID: res.ID})
	commandstest.RequireRule(t, err, "ASSESSMENT_INCOMPLETE")

	later := asOf.Add(12 * time.Hour)
	_, err = h.RescheduleAssessment(t.Context(), admin, acmd.RescheduleAssessment{AssessmentID: res.ID, AsOf: &later})
	require.NoError(t, err)
	events = d.Decoded(t, acmd.AssessmentStreamID(res.ID))
	require.Equal(t, later, events[len(events)-1].(as.AssessmentRescheduled).AsOf)
}
