package trivy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// parseAll parses data and collects every item.
func parseAll(t testing.TB, data []byte) ([]trivy.Item, trivy.Summary, error) {
	t.Helper()
	var items []trivy.Item
	s, err := trivy.Parse(context.Background(), bytes.NewReader(data), func(it trivy.Item) error {
		items = append(items, it)
		return nil
	})
	return items, s, err
}

func mustParse(t testing.TB, name string) ([]trivy.Item, trivy.Summary) {
	t.Helper()
	items, s, err := parseAll(t, sample(t, name))
	require.NoError(t, err)
	return items, s
}

func vulns(items []trivy.Item) []*trivy.Vulnerability {
	var out []*trivy.Vulnerability
	for _, it := range items {
		if it.Kind == trivy.ItemVulnerability {
			out = append(out, it.Vulnerability)
		}
	}
	return out
}

const (
	alpine    = "trivy_image_alpine-3.10_registry_with_repodigests.json"
	stretch   = "trivy_image_debian-stretch_golden.json"
	spring    = "trivy_image_spring4shell-jre11_golden_kev_cve.json"
	statuses  = "trivy_image_debian-10_all_statuses_defectdojo.json"
	jar       = "trivy_0.69_fs_jar_cvssv4_multi_fixedversion_defectdojo.json"
	teamdojo  = "trivy_image_teamdojo_scheme2_defectdojo_kev_cve.json"
	misconfig = "trivy_fs_misconfig_secrets_defectdojo.json"
	legacy    = "ours_legacy_alpine_array.json"
	unmasked  = "ours_fs_secret_unmasked.json"
)

var allSamples = []string{alpine, stretch, spring, statuses, jar, teamdojo, misconfig, legacy, unmasked}
