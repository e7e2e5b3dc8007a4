package vulnerabilities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportSamples_Debug(t *testing.T) {
	for _, name := range []string{
		"trivy_image_alpine-3.10_registry_with_repodigests.json", "trivy_image_debian-stretch_golden.json",
		"trivy_image_spring4shell-jre11_golden_kev_cve.json", "trivy_image_debian-10_all_statuses_defectdojo.json",
		"trivy_0.69_fs_jar_cvssv4_multi_fixedversion_defectdojo.json", "trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json",
		"trivy_fs_misconfig_secrets_defectdojo.json", "ours_legacy_alpine_array.json", "ours_fs_secret_unmasked.json",
	} {
		f := newFixture(t)
		res, err := f.importBytes(t, teamA, sample(t, name))
		if !assert.NoError(t, err, name) {
			continue
		}
		tx := project(t, f.events(t))
		t.Logf("%s: %+v counts %+v occ %d cat %d art %d ri %d cfg %d", name, res.Identity, *res.Counts,
			len(tx.Colls["occurrences"]), len(tx.Colls["vulnerability_catalog"]), len(tx.Colls["artifacts"]), len(tx.Colls["registry_images"]), len(tx.Colls["config_findings"]))
		require.NotEmpty(t, res.ImportID)
	}
}
