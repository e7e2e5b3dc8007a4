package vulnerabilities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

var art = vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisImageID, Key: imageID}

func occ(pkg, version, id string) vuln.Occurrence {
	return vuln.Occurrence{VulnerabilityID: id, Package: vuln.Package{Class: vuln.ClassOS, Type: "alpine", Name: pkg, InstalledVersion: version, Target: "alpine:3.10 (alpine 3.10.2)"}}
}

func idOf(t *testing.T, a vuln.ArtifactIdentity, o vuln.Occurrence) string {
	t.Helper()
	id, err := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, a, o)
	require.NoError(t, err)
	return id.OccurrenceID("team-a")
}

func TestOccurrenceIdentity_SameCVEOnTwoPackagesIsTwoOccurrences(t *testing.T) {
	// Given CVE-2019-1549 on libcrypto1.1 and libssl1.1 of one image
	a := idOf(t, art, occ("libcrypto1.1", "1.1.1c-r0", "CVE-2019-1549"))
	b := idOf(t, art, occ("libssl1.1", "1.1.1c-r0", "CVE-2019-1549"))
	// Then two occurrences
	assert.NotEqual(t, a, b)
}

func TestOccurrenceIdentity_OSTargetDoesNotMatter(t *testing.T) {
	// Given the same image scanned by tag and from a tarball: os-pkgs targets differ
	o1 := occ("musl", "1.1.22-r3", "cve-2019-14697")
	o2 := occ("musl", "1.1.22-r3", "CVE-2019-14697")
	o2.Package.Target = "images/alpine.tar (alpine 3.10.2)"
	// Then one occurrence (ids normalised too)
	assert.Equal(t, idOf(t, art, o1), idOf(t, art, o2))
}

func TestOccurrenceIdentity_LanguagePackagesAreKeyedByTheirFile(t *testing.T) {
	jar := func(target, path string) vuln.Occurrence {
		return vuln.Occurrence{VulnerabilityID: "CVE-2021-35515", Package: vuln.Package{Class: vuln.ClassLang, Type: "jar",
			Name: "org.apache.commons:commons-compress", InstalledVersion: "1.14", Target: target, Path: path}}
	}
	// Given an older Trivy (path in the target) and a newer one (target "Java", path in PkgPath)
	older := idOf(t, art, jar("app/libs/commons-compress-1.14.jar", ""))
	newer := idOf(t, art, jar("Java", "app/libs/commons-compress-1.14.jar"))
	// Then one occurrence; the same jar at another path is another
	assert.Equal(t, older, newer)
	assert.NotEqual(t, older, idOf(t, art, jar("Java", "other/commons-compress-1.14.jar")))
}

func TestOccurrenceIdentity_ArtifactVersionTeamEachMatter(t *testing.T) {
	base := occ("musl", "1.1.22-r3", "CVE-2019-14697")
	upgraded := occ("musl", "1.1.22-r4", "CVE-2019-14697")
	moved := vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisImageID, Key: imageID2}
	ids := map[string]bool{idOf(t, art, base): true, idOf(t, art, upgraded): true, idOf(t, moved, base): true}
	assert.Len(t, ids, 3)
	id, _ := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, art, base)
	assert.NotEqual(t, id.OccurrenceID("team-a"), id.OccurrenceID("team-b"))
	assert.Regexp(t, `^occ-[0-9a-f]{32}$`, id.OccurrenceID("team-a"))
}

func TestOccurrenceIdentity_Errors(t *testing.T) {
	_, err := vuln.OccurrenceIdentityOf("trivy/v9", art, occ("a", "1", "CVE-1"))
	require.Error(t, err)
	_, err = vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, vuln.ArtifactIdentity{}, occ("a", "1", "CVE-1"))
	require.Error(t, err)
	_, err = vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, art, occ("", "1", "CVE-1"))
	require.Error(t, err)
	_, err = vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, art, occ("a", "1", " "))
	require.Error(t, err)
}

func TestMisconfigurationAndSecretKeys(t *testing.T) {
	m := vuln.Misconfiguration{ID: "DS002", AVDID: "AVD-DS-0002", Target: "Dockerfile"}
	m2 := m
	m2.Cause.StartLine = 7
	assert.NotEqual(t, vuln.MisconfigurationKey("t", art, m), vuln.MisconfigurationKey("t", art, m2))
	s := vuln.Secret{RuleID: "github-pat", Target: "Dockerfile", Location: vuln.Location{StartLine: 24, EndLine: 24}}
	s2 := s
	s2.Target = "secret.txt"
	assert.NotEqual(t, vuln.SecretKey("t", art, s), vuln.SecretKey("t", art, s2))
}

func TestFixedVersionsAndStatus(t *testing.T) {
	assert.Equal(t, []string{"11.0.14", "10.1.49", "9.0.112"}, vuln.SplitFixedVersions("11.0.14, 10.1.49, 9.0.112"))
	assert.Nil(t, vuln.SplitFixedVersions(""))
	assert.Equal(t, []string{"1.2"}, vuln.SplitFixedVersions(" 1.2 ,,1.2"))
	st, ok := vuln.ParseStatus("will_not_fix")
	assert.True(t, ok)
	assert.Equal(t, vuln.StatusWillNotFix, st)
	st, ok = vuln.ParseStatus("")
	assert.True(t, ok)
	assert.Equal(t, vuln.Status(""), st)
	_, ok = vuln.ParseStatus("wontfix")
	assert.False(t, ok)
	assert.True(t, vuln.Occurrence{FixedVersions: []string{"1"}}.FixAvailable())
}

func TestScopeRule_AScanOfTheImageATagMovedToFixesNothingOnTheOldOne(t *testing.T) {
	// Given app:latest scanned on one image, then moved to a rebuilt image and scanned again
	old := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "app:latest", ImageID: imageID, Tags: []string{"app:latest"}}
	rebuilt := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "app:latest", ImageID: imageID2, Tags: []string{"app:latest"}}
	oldID, _ := old.Identity()
	newID, _ := rebuilt.Identity()
	onOld, err := vuln.OccurrenceIdentityOf(vuln.IdentityTrivyV1, oldID, occ("musl", "1.1.22-r3", "CVE-2019-14697"))
	require.NoError(t, err)
	// Then they are two artifacts, the tag moves, and the old image's occurrence is outside the new scan's scope
	assert.NotEqual(t, oldID, newID)
	assert.Equal(t, []vuln.TagMove{{Tag: "app:latest", From: oldID.ID(), To: newID.ID()}},
		vuln.TagMoves(map[string]string{"app:latest": oldID.ID()}, newID.ID(), rebuilt.Tags))
	assert.False(t, onOld.InScopeOf(newID))
	assert.True(t, onOld.InScopeOf(oldID))
	// A filesystem scan with the same key is another artifact
	assert.False(t, onOld.InScopeOf(vuln.ArtifactIdentity{Kind: vuln.ArtifactFilesystem, Basis: vuln.BasisPath, Key: imageID}))
}
