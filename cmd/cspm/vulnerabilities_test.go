package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

func trivyTestdata(name string) string { return "../../platform/parsers/trivy/testdata/" + name }

// TestImportCLI_Trivy: cspm import takes Trivy reports through the same
// route, detected or named; the same report again appends nothing; the
// image and its occurrences are served.
func TestImportCLI_Trivy(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)

	r := a.cli(t, nil, "import", trivyTestdata("trivy_image_alpine-3.10_registry_with_repodigests.json"), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^imported .*alpine-3.10_registry_with_repodigests.json \(trivy-json, trivy, [\d.]+ KiB\) as vim-[0-9a-f]{32} of art-[0-9a-f]{32}\n`, r.stdout)
	assert.Contains(t, r.stdout, "vulns     4 occurrences of 2 vulnerabilities (medium 4); 0 misconfigurations, 0 secrets")

	r = a.cli(t, nil, "import", trivyTestdata("ours_legacy_alpine_array.json"), "--server", a.base, "--format", "trivy-legacy", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var legacy cscmd.ImportResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &legacy), r.stdout)
	assert.Equal(t, "trivy-legacy", legacy.Format)
	assert.NotEmpty(t, legacy.Warnings, "an image without a digest is accepted unpinned, with a warning")

	head := a.head(t)
	r = a.cli(t, nil, "import", trivyTestdata("trivy_image_alpine-3.10_registry_with_repodigests.json"), "--server", a.base)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "was imported before as vim-")
	assert.Equal(t, head, a.head(t))

	var images []vulnquery.Image
	must(t, a.get(t, fmt.Sprintf("/api/v1/images?min_position=%d", legacy.Position)), 200).data(t, &images)
	require.Len(t, images, 2)
	var img vulnquery.ImageDetail
	for _, im := range images {
		if im.ImageID != "" {
			must(t, a.get(t, "/api/v1/images/"+im.ImageID), 200).data(t, &img)
		}
	}
	assert.Len(t, img.OpenOccurrences, 4)

	// GET /imports lists the Trivy imports beside the others, with their
	// artifact and counts.
	var imports []csquery.Import
	must(t, a.get(t, fmt.Sprintf("/api/v1/imports?min_position=%d", legacy.Position)), 200).data(t, &imports)
	require.Len(t, imports, 2)
	var first csquery.Import
	must(t, a.get(t, "/api/v1/imports/"+imports[1].ID), 200).data(t, &first)
	assert.Equal(t, "completed", first.Status)
	assert.Equal(t, "trivy", first.Tool)
	assert.Regexp(t, `^art-[0-9a-f]{32}$`, first.ArtifactID)
	assert.EqualValues(t, 4, first.Counts["occurrences"])
	assert.EqualValues(t, 2, first.Counts["distinct_vulnerabilities"])
	assert.Equal(t, legacy.ImportID, imports[0].ID, "newest first")
}
