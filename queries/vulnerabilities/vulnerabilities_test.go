package vulnerabilities_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/queriestest"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

func sample(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "trivy", "testdata", name))
	require.NoError(t, err)
	return b
}

const (
	alpine   = "trivy_image_alpine-3.10_registry_with_repodigests.json"
	teamdojo = "trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json"
	jar      = "trivy_0.69_fs_jar_cvssv4_multi_fixedversion_defectdojo.json"
)

func world(t *testing.T) *vulnquery.Service {
	events := queriestest.TrivyEvents(t,
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, alpine)},
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, teamdojo)},
		queriestest.TrivyImport{Team: "team-a", Report: sample(t, jar)},
		queriestest.TrivyImport{Team: "team-b", Report: sample(t, alpine)},
	)
	env := queriestest.NewEnv(t, events)
	return vulnquery.New(env.Stores[dbregistry.VULNERABILITIES])
}

func TestImagesAndOccurrences(t *testing.T) {
	s := world(t)
	ctx := t.Context()
	imgs, err := s.ListImages(ctx, "team-a", vulnquery.ImageFilter{}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, imgs.Items, 2, "two images; the jar's fs scan is not one")
	fs, err := s.ListImages(ctx, "team-a", vulnquery.ImageFilter{Kind: "fs"}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, fs.Items, 1)

	var alp vulnquery.Image
	for _, im := range imgs.Items {
		if im.Name == "alpine:3.10" {
			alp = im
		}
	}
	require.NotEmpty(t, alp.ArtifactID)
	assert.Equal(t, []string{"alpine:3.10"}, alp.Tags)
	assert.True(t, alp.EOSL)
	assert.EqualValues(t, 4, alp.Open)
	require.NotEmpty(t, alp.RepoDigests)

	// By ImageID, by repo digest, by artifact id.
	for _, key := range []string{alp.ImageID, alp.RepoDigests[0].Digest, alp.ArtifactID} {
		d, err := s.GetImage(ctx, "team-a", key)
		require.NoError(t, err, key)
		assert.Len(t, d.OpenOccurrences, 4)
		assert.False(t, d.Truncated)
	}
	// Another team's image is not found; team-b has its own.
	_, err = s.GetImage(ctx, "team-c", alp.ImageID)
	assert.ErrorIs(t, err, queries.ErrNotFound)
	b, err := s.GetImage(ctx, "team-b", alp.ImageID)
	require.NoError(t, err)
	assert.Len(t, b.OpenOccurrences, 4)

	all, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{}, queries.Page{Limit: 200})
	require.NoError(t, err)
	assert.Len(t, all.Items, 4+5+3)
	for i := 1; i < len(all.Items); i++ {
		assert.GreaterOrEqual(t, rank(all.Items[i-1].Severity), rank(all.Items[i].Severity), "most severe first")
	}
	crit, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{Severity: "critical"}, queries.Page{})
	require.NoError(t, err)
	assert.Len(t, crit.Items, 1)
	yes, no := true, false
	fixable, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{HasFix: &yes}, queries.Page{})
	require.NoError(t, err)
	for _, o := range fixable.Items {
		assert.NotEmpty(t, o.FixedVersions)
	}
	kev, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{KEV: &yes}, queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, kev.Items, "no KEV flags until the KEV join lands")
	notKev, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{KEV: &no}, queries.Page{Limit: 200})
	require.NoError(t, err)
	assert.Len(t, notKev.Items, 12)

	// Pages: a cursor walks them all once.
	seen := map[string]bool{}
	p := queries.Page{Limit: 5}
	for {
		page, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{}, p)
		require.NoError(t, err)
		for _, o := range page.Items {
			assert.False(t, seen[o.ID])
			seen[o.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	assert.Len(t, seen, 12)

	_, err = s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{Severity: "severe"}, queries.Page{})
	var verr *domain.ValidationError
	require.True(t, errors.As(err, &verr))
	assert.Equal(t, "severity", verr.Fields[0].Field)
}

func TestVulnerabilityDetail(t *testing.T) {
	s := world(t)
	ctx := t.Context()
	occ, err := s.ListOccurrences(ctx, "team-a", vulnquery.OccurrenceFilter{Severity: "medium"}, queries.Page{})
	require.NoError(t, err)
	id := occ.Items[0].VulnerabilityID
	d, err := s.GetVulnerability(ctx, "team-a", id)
	require.NoError(t, err)
	assert.Equal(t, id, d.ID)
	assert.NotEmpty(t, d.Occurrences)
	for _, o := range d.Occurrences {
		assert.Equal(t, id, o.VulnerabilityID)
	}
	// The catalog is public; the occurrences are the caller's team's.
	other, err := s.GetVulnerability(ctx, "team-c", id)
	require.NoError(t, err)
	assert.Equal(t, d.CatalogEntry, other.CatalogEntry)
	assert.Empty(t, other.Occurrences)
	_, err = s.GetVulnerability(ctx, "team-a", "CVE-1999-0000")
	assert.ErrorIs(t, err, queries.ErrNotFound)
}

func rank(s string) int {
	return map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}[s]
}
