package cisoassistant_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
)

func parseFile(t *testing.T, name string) cisoassistant.Library {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	lib, err := cisoassistant.Parse(f)
	require.NoError(t, err)
	return lib
}

func TestParse_RealLibraries(t *testing.T) {
	cases := []struct {
		file, framework, version, name string
		nodes, assessable              int
		sections                       []string
		sample                         string // an assessable node's ref and its section
		sampleSection                  string
	}{
		{"nist_ai_rmf_1.0_ciso-assistant-library.json", "nist-ai-rmf-1.0", "1", "NIST AI RMF 1.0", 113, 72,
			[]string{"GOVERN", "MAP", "MEASURE", "MANAGE"}, "GOVERN 1.1", "GOVERN"},
		{"eu_ai_act_chapter3_section2_ciso-assistant-library_subset.json", "ai-act", "2", "EU Artificial Intelligence Act", 101, 88,
			[]string{"CHAPTER III"}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.framework, func(t *testing.T) {
			lib := parseFile(t, tc.file)
			require.Empty(t, lib.Mappings)
			c := lib.Catalogue
			require.NotNil(t, c)
			require.Equal(t, tc.framework, c.Framework)
			require.Equal(t, tc.version, c.Version)
			require.Equal(t, tc.name, c.Name)
			require.Equal(t, assessments.SourceCISOAssistant, c.Source)
			require.Len(t, c.Requirements, tc.nodes)
			require.Equal(t, tc.assessable, c.Assessable())
			sections := map[string]bool{}
			for _, r := range c.Requirements {
				if r.Assessable {
					sections[r.Section] = true
					require.True(t, strings.HasPrefix(r.ID, "urn:intuitem:risk:req_node:"), r.ID)
				}
				if r.RefID == tc.sample && tc.sample != "" {
					require.Equal(t, tc.sampleSection, r.Section)
					require.True(t, r.Assessable)
				}
			}
			for _, s := range tc.sections {
				require.True(t, sections[s], "section %q among %v", s, sections)
			}
			require.Len(t, sections, len(tc.sections))
		})
	}
}

func TestParse_MappingSet(t *testing.T) {
	lib, err := cisoassistant.Parse(strings.NewReader(`{"urn":"urn:x:library:m","objects":{"requirement_mapping_set":{
		"urn":"urn:intuitem:risk:req_mapping_set:ai-act-to-nist-ai-rmf","name":"AI Act → AI RMF",
		"source_framework_urn":"urn:intuitem:risk:framework:ai-act","target_framework_urn":"urn:intuitem:risk:framework:nist-ai-rmf-1.0",
		"requirement_mappings":[{"source_requirement_urn":"a","target_requirement_urn":"b","relationship":"intersect"},
		{"source_requirement_urn":"a","target_requirement_urn":"c","relationship":"not_related"}]}}}`))
	require.NoError(t, err)
	require.Nil(t, lib.Catalogue)
	require.Equal(t, []assessments.MappingSet{{ID: "ai-act-to-nist-ai-rmf", Name: "AI Act → AI RMF",
		Source: assessments.FrameworkRef{Framework: "ai-act"}, Target: assessments.FrameworkRef{Framework: "nist-ai-rmf-1.0"},
		Pairs: []assessments.RequirementPair{{Source: "a", Target: "b", Relationship: "intersect"}}}}, lib.Mappings)
}

func TestParse_Refused(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      `{"objects":`,
		"no objects":    `{"urn":"x"}`,
		"node sans urn": `{"objects":{"framework":{"urn":"urn:a:b:fw","name":"F","requirement_nodes":[{"assessable":true}]}}}`,
		"no assessable": `{"objects":{"framework":{"urn":"urn:a:b:fw","name":"F","requirement_nodes":[{"urn":"n1"}]}}}`,
		"bad parent":    `{"objects":{"framework":{"urn":"urn:a:b:fw","name":"F","requirement_nodes":[{"urn":"n1","assessable":true,"parent_urn":"zz"}]}}}`,
	} {
		_, err := cisoassistant.Parse(strings.NewReader(body))
		var pe *cisoassistant.ParseError
		require.ErrorAs(t, err, &pe, name)
	}
}
