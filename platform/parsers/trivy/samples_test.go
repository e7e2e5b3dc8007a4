package trivy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

type sev = map[vuln.Severity]int

// TestSamples_Counts: every sample, counted independently (jq/python over the files): occurrence rows, distinct
// ids, vulnerable packages (class, type, name, version, location), package items, misconfigurations, secrets, and
// the severities of each.
func TestSamples_Counts(t *testing.T) {
	for _, tc := range []struct {
		file                       string
		format                     trivy.Format
		vulns, ids, vulnPkgs, pkgs int
		bySev                      sev
		misconfigs, secrets        int
		misconfigSev, secretSev    sev
		results                    map[string]int
	}{
		{alpine, trivy.FormatJSON, 4, 2, 2, 0, sev{"medium": 4}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1}},
		{stretch, trivy.FormatJSON, 5, 2, 5, 0, sev{"low": 1, "medium": 4}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1}},
		{spring, trivy.FormatJSON, 1, 1, 1, 0, sev{"critical": 1}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1, "lang-pkgs": 1, "custom": 1}},
		{statuses, trivy.FormatJSON, 8, 8, 3, 0, sev{"low": 8}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1}},
		{jar, trivy.FormatJSON, 3, 3, 1, 1, sev{"medium": 1, "low": 2}, 0, 0, sev{}, sev{}, map[string]int{"lang-pkgs": 1}},
		{teamdojo, trivy.FormatJSON, 5, 5, 4, 0, sev{"medium": 3, "high": 1, "critical": 1}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1, "lang-pkgs": 2}},
		{misconfig, trivy.FormatJSON, 2, 2, 1, 0, sev{"high": 1, "medium": 1}, 1, 2, sev{"high": 1}, sev{"critical": 2}, map[string]int{"lang-pkgs": 1, "config": 1, "secret": 2}},
		{legacy, trivy.FormatLegacy, 3, 2, 3, 0, sev{"medium": 2, "high": 1}, 0, 0, sev{}, sev{}, map[string]int{"os-pkgs": 1, "lang-pkgs": 2}},
		{unmasked, trivy.FormatJSON, 0, 0, 0, 0, sev{}, 0, 2, sev{}, sev{"critical": 2}, map[string]int{"secret": 1}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			items, s := mustParse(t, tc.file)
			assert.Equal(t, tc.format, s.Format)
			assert.Equal(t, tc.vulns, s.Vulnerabilities, "vulnerabilities")
			assert.Equal(t, tc.ids, s.DistinctVulnerabilities, "distinct ids")
			assert.Equal(t, tc.vulnPkgs, s.VulnerablePackages, "vulnerable packages")
			assert.Equal(t, tc.pkgs, s.Packages, "packages")
			assert.Equal(t, tc.bySev, s.VulnerabilitiesBySev)
			assert.Equal(t, tc.misconfigs, s.Misconfigurations)
			assert.Equal(t, tc.misconfigSev, s.MisconfigurationsBySev)
			assert.Equal(t, tc.secrets, s.Secrets)
			assert.Equal(t, tc.secretSev, s.SecretsBySev)
			assert.Equal(t, tc.results, s.Results)
			assert.Len(t, items, tc.vulns+tc.pkgs+tc.misconfigs+tc.secrets)
			// Every vulnerability's occurrence has an identity under trivy/v1, in the report's artifact
			if tc.vulns > 0 {
				art, err := s.Artifact.Identity()
				require.NoError(t, err)
				for _, v := range vulns(items) {
					_, err := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, art, v.Occurrence)
					require.NoError(t, err)
				}
			}
		})
	}
}

func TestSamples_Artifacts(t *testing.T) {
	for _, tc := range []struct {
		file  string
		want  vuln.Artifact
		basis vuln.IdentityBasis
		key   string
	}{
		{alpine, vuln.Artifact{Kind: vuln.ArtifactImage, Name: "alpine:3.10",
			ImageID:     "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4",
			RepoDigests: []vuln.RepoDigest{{Repository: "alpine", Digest: "sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60"}},
			Tags:        []string{"alpine:3.10"}, OS: vuln.OS{Family: "alpine", Name: "3.10.2", EOSL: true}},
			vuln.BasisImageID, "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4"},
		{statuses, vuln.Artifact{Kind: vuln.ArtifactImage, ImageID: "sha256:22ae3921bdaac434bb4cb92dbbc209e46b1f3f70e9fa0b5fbbb43ce7d452c72d",
			OS: vuln.OS{Family: "debian", Name: "10.13"}}, vuln.BasisImageID, "sha256:22ae3921bdaac434bb4cb92dbbc209e46b1f3f70e9fa0b5fbbb43ce7d452c72d"},
		{teamdojo, vuln.Artifact{Kind: vuln.ArtifactImage, Name: "teamdojo:latest", Tags: []string{"teamdojo:latest"},
			OS: vuln.OS{Family: "alpine", Name: "3.9.4"}}, vuln.BasisName, "teamdojo:latest"},
		{jar, vuln.Artifact{Kind: vuln.ArtifactFilesystem, Name: "lib/catalina.jar"}, vuln.BasisPath, "lib/catalina.jar"},
		{legacy, vuln.Artifact{Kind: vuln.ArtifactImage, Name: "alpine:3.10", OS: vuln.OS{Family: "alpine", Name: "3.10.2"}}, vuln.BasisName, "alpine:3.10"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, s := mustParse(t, tc.file)
			assert.Equal(t, tc.want, s.Artifact)
			id, err := s.Artifact.Identity()
			require.NoError(t, err)
			assert.Equal(t, tc.basis, id.Basis)
			assert.Equal(t, tc.key, id.Key)
		})
	}
}

func TestSamples_ReportHeader(t *testing.T) {
	_, s := mustParse(t, jar)
	assert.Equal(t, "0.69.1", s.TrivyVersion)
	assert.Equal(t, "019c8e79-cf0f-75cc-8c6e-b806652074c5", s.ReportID)
	assert.Equal(t, time.Date(2026, 2, 24, 7, 7, 53, 487381000, time.UTC), s.CreatedAt)
	// An offset is read and the time kept in UTC
	_, s = mustParse(t, unmasked)
	assert.Equal(t, time.Date(2025, 3, 1, 8, 0, 0, 123456789, time.UTC), s.CreatedAt)
	assert.Equal(t, time.UTC, s.CreatedAt.Location())
}

func TestSamples_SameCVEOnTwoPackagesIsTwoOccurrences(t *testing.T) {
	items, s := mustParse(t, alpine)
	art, _ := s.Artifact.Identity()
	byID := map[string][]string{}
	occs := map[string]bool{}
	for _, v := range vulns(items) {
		byID[v.Record.ID] = append(byID[v.Record.ID], v.Occurrence.Package.Name)
		id, _ := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, art, v.Occurrence)
		occs[id.OccurrenceID("team")] = true
	}
	assert.Equal(t, map[string][]string{"CVE-2019-1549": {"libcrypto1.1", "libssl1.1"}, "CVE-2019-1551": {"libcrypto1.1", "libssl1.1"}}, byID)
	assert.Len(t, occs, 4)
}

func TestSamples_MultipleFixedVersionsAndCVSSv4(t *testing.T) {
	items, _ := mustParse(t, jar)
	v := vulns(items)[0]
	assert.Equal(t, "CVE-2025-66614", v.Record.ID)
	assert.Equal(t, []string{"11.0.14", "10.1.49", "9.0.112"}, v.Occurrence.FixedVersions)
	assert.Equal(t, vuln.StatusFixed, v.Occurrence.Status)
	assert.Equal(t, []string{"GHSA-fpj8-gq4v-p354"}, v.Record.Aliases)
	assert.Equal(t, "ghsa", v.Record.SeveritySource)
	assert.Equal(t, vuln.CVSS{V4Vector: "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", V4Score: 6.3}, v.Record.CVSS["ghsa"])
	assert.Equal(t, 5.3, v.Record.CVSS["redhat"].V3Score)
	assert.Equal(t, map[string]vuln.Severity{"ghsa": vuln.SeverityMedium, "redhat": vuln.SeverityMedium}, v.Record.VendorSeverities)
	assert.Equal(t, []string{"CWE-20"}, v.Record.CWEs)
	assert.Equal(t, time.Date(2026, 2, 17, 19, 21, 55, 310000000, time.UTC), v.Record.PublishedAt)
	p := v.Occurrence.Package
	assert.Equal(t, vuln.Package{Class: vuln.ClassLang, Type: "jar", Name: "org.apache.tomcat:tomcat-catalina", InstalledVersion: "9.0.109",
		PURL: "pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109", UID: "ac2f42ab8f82e098", Path: "catalina.jar", Target: "Java"}, p)
	assert.Equal(t, "catalina.jar", p.Location())
	// The package list (--list-all-pkgs)
	for _, it := range items {
		if it.Kind == trivy.ItemPackage {
			assert.Equal(t, "org.apache.tomcat:tomcat-catalina", it.Package.Name)
			assert.Equal(t, "9.0.109", it.Package.InstalledVersion)
		}
	}
}

func TestSamples_StatusesAndNonCVEIds(t *testing.T) {
	items, s := mustParse(t, statuses)
	assert.Equal(t, map[vuln.Status]int{"unknown": 1, "not_affected": 1, "affected": 1, "fixed": 1, "under_investigation": 1,
		"will_not_fix": 1, "fix_deferred": 1, "end_of_life": 1}, s.VulnerabilitiesByStatus)
	var ids []string
	for _, v := range vulns(items) {
		ids = append(ids, v.Record.ID)
	}
	assert.Contains(t, ids, "TEMP-0841856-B18BAF")
	// end_of_life without a fixed version (golden)
	items, _ = mustParse(t, stretch)
	for _, v := range vulns(items) {
		if v.Occurrence.Status == vuln.StatusEndOfLife {
			assert.False(t, v.Occurrence.FixAvailable())
			assert.Equal(t, "debian", v.Occurrence.SeveritySource)
			assert.NotEmpty(t, v.Occurrence.Fingerprint)
			assert.NotEmpty(t, v.Occurrence.Package.PURL)
		}
	}
	// No Status in older reports
	_, s = mustParse(t, teamdojo)
	assert.Equal(t, map[vuln.Status]int{"": 5}, s.VulnerabilitiesByStatus)
}

func TestSamples_KEVCVEs(t *testing.T) {
	for file, cve := range map[string]string{spring: "CVE-2022-22965", teamdojo: "CVE-2020-15999"} {
		items, _ := mustParse(t, file)
		found := false
		for _, v := range vulns(items) {
			found = found || v.Record.ID == cve
		}
		assert.True(t, found, "%s in %s", cve, file)
	}
}

func TestSamples_Misconfiguration(t *testing.T) {
	items, s := mustParse(t, misconfig)
	var m *vuln.Misconfiguration
	for _, it := range items {
		if it.Kind == trivy.ItemMisconfiguration {
			m = it.Misconfiguration
		}
	}
	require.NotNil(t, m)
	assert.Equal(t, "DS002", m.ID)
	assert.Equal(t, vuln.MisconfigFail, m.Status)
	assert.Equal(t, vuln.SeverityHigh, m.Severity)
	assert.Equal(t, "Dockerfile", m.Target)
	assert.Equal(t, "dockerfile", m.ConfigType)
	assert.Equal(t, "Dockerfile", m.Provider)
	assert.Equal(t, 22, s.MisconfSummary.Successes)
	assert.Equal(t, 1, s.MisconfSummary.Failures)
}

func TestSamples_LegacyDerivesClassFromType(t *testing.T) {
	items, _ := mustParse(t, legacy)
	classes := map[string]string{}
	for _, it := range items {
		classes[it.Result.Type] = it.Result.Class
	}
	assert.Equal(t, map[string]string{"alpine": "os-pkgs", "npm": "lang-pkgs"}, classes)
	assert.Equal(t, "GHSA-p6mc-m468-83gw", vulns(items)[2].Record.ID)
}

func TestArtifactKinds_RepositoryAndRootfs(t *testing.T) {
	base := string(sample(t, jar))
	repo := strings.Replace(base, `"ArtifactType": "filesystem",`, `"ArtifactType": "repository", "Metadata": {"RepoURL": "https://github.com/example/app", "Branch": "main", "Commit": "0123456789abcdef0123456789abcdef01234567"},`, 1)
	repo = strings.Replace(repo, `"ArtifactName": "lib/catalina.jar"`, `"ArtifactName": "https://github.com/example/app"`, 1)
	_, s, err := parseAll(t, []byte(repo))
	require.NoError(t, err)
	assert.Equal(t, vuln.Artifact{Kind: vuln.ArtifactRepository, Name: "https://github.com/example/app", Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}, s.Artifact)
	id, err := s.Artifact.Identity()
	require.NoError(t, err)
	assert.Equal(t, vuln.BasisPath, id.Basis)

	rootfs := strings.Replace(base, `"ArtifactType": "filesystem"`, `"ArtifactType": "rootfs"`, 1)
	_, s, err = parseAll(t, []byte(rootfs))
	require.NoError(t, err)
	assert.Equal(t, vuln.ArtifactRootfs, s.Artifact.Kind)
	assert.Equal(t, 3, s.Vulnerabilities)
}
