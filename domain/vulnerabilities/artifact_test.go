package vulnerabilities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

const (
	imageID  = "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4"
	imageID2 = "sha256:22ae3921bdaac434bb4cb92dbbc209e46b1f3f70e9fa0b5fbbb43ce7d452c72d"
	manifest = "sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60"
)

func TestArtifactIdentity_ImageIsItsImageIDNotItsTag(t *testing.T) {
	// Given the same tag on two scans whose image content differs (the tag moved)
	before := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "alpine:3.10", ImageID: imageID, Tags: []string{"alpine:3.10"}}
	after := before
	after.ImageID = imageID2
	// When their identities are taken
	a, err := before.Identity()
	require.NoError(t, err)
	b, err := after.Identity()
	require.NoError(t, err)
	// Then they are two artifacts, both pinned to content
	assert.NotEqual(t, a.ID(), b.ID())
	assert.Equal(t, vuln.BasisImageID, a.Basis)
	assert.True(t, a.Pinned())
	assert.Equal(t, imageID, a.Key)
}

func TestArtifactIdentity_SameContentFromRegistryOrTarballIsOneArtifact(t *testing.T) {
	// Given one image pulled from a registry and the same image scanned from a tarball
	pulled := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "alpine:3.10", ImageID: imageID,
		RepoDigests: []vuln.RepoDigest{{Repository: "alpine", Digest: manifest}}}
	tarball := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "images/alpine.tar", ImageID: imageID}
	// Then both are the same artifact
	a, _ := pulled.Identity()
	b, _ := tarball.Identity()
	assert.Equal(t, a, b)
}

func TestArtifactIdentity_Fallbacks(t *testing.T) {
	// Given an image without ImageID but with a repo digest: the manifest digest
	id, err := vuln.Artifact{Kind: vuln.ArtifactImage, Name: "x", RepoDigests: []vuln.RepoDigest{{Repository: "alpine", Digest: manifest}}}.Identity()
	require.NoError(t, err)
	assert.Equal(t, vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisRepoDigest, Key: manifest}, id)
	// Given an image with neither: its name, not pinned
	id, err = vuln.Artifact{Kind: vuln.ArtifactImage, Name: "teamdojo:latest", ImageID: "not-a-digest"}.Identity()
	require.NoError(t, err)
	assert.Equal(t, vuln.BasisName, id.Basis)
	assert.False(t, id.Pinned())
	// Given a filesystem scan: kind and path
	id, err = vuln.Artifact{Kind: vuln.ArtifactFilesystem, Name: "lib/catalina.jar"}.Identity()
	require.NoError(t, err)
	assert.Equal(t, vuln.ArtifactIdentity{Kind: vuln.ArtifactFilesystem, Basis: vuln.BasisPath, Key: "lib/catalina.jar"}, id)
	// Given nothing to go by: an error
	_, err = vuln.Artifact{Kind: vuln.ArtifactImage}.Identity()
	require.Error(t, err)
	_, err = vuln.Artifact{Kind: vuln.ArtifactRepository, Name: " "}.Identity()
	require.Error(t, err)
	_, err = vuln.Artifact{Kind: "vm", Name: "x"}.Identity()
	require.Error(t, err)
}

func TestArtifactKind_TrivyNames(t *testing.T) {
	for in, want := range map[string]vuln.ArtifactKind{"container_image": vuln.ArtifactImage, "filesystem": vuln.ArtifactFilesystem,
		"repository": vuln.ArtifactRepository, "rootfs": vuln.ArtifactRootfs, "image": vuln.ArtifactImage} {
		got, ok := vuln.ParseArtifactKind(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	_, ok := vuln.ParseArtifactKind("vm")
	assert.False(t, ok)
}

func TestParseRepoDigest(t *testing.T) {
	d, ok := vuln.ParseRepoDigest("alpine@" + manifest)
	require.True(t, ok)
	assert.Equal(t, vuln.RepoDigest{Repository: "alpine", Digest: manifest}, d)
	for _, bad := range []string{"", "alpine", "alpine@sha256:abc", "@" + manifest, "alpine@md5:" + manifest[7:]} {
		_, ok := vuln.ParseRepoDigest(bad)
		assert.False(t, ok, bad)
	}
}

func TestArtifactNormalize_DropsRedactedValues(t *testing.T) {
	// Given a redacted report's metadata (RepoTags [""], RepoDigests [""])
	a := vuln.Artifact{Tags: []string{"", "b:1", "a:1", "b:1"}, RepoDigests: []vuln.RepoDigest{{}, {Repository: "z", Digest: manifest}, {Repository: "a", Digest: manifest}}}
	// When normalised
	a.Normalize()
	// Then the empty values are gone and the rest sorted
	assert.Equal(t, []string{"a:1", "b:1"}, a.Tags)
	assert.Equal(t, []vuln.RepoDigest{{Repository: "a", Digest: manifest}, {Repository: "z", Digest: manifest}}, a.RepoDigests)
}

func TestTagMoves(t *testing.T) {
	// Given latest last seen on artifact A, v1 on A, and a scan of B tagged latest, v1 and v2
	last := map[string]string{"app:latest": "art-A", "app:v1": "art-B"}
	// When the moves are computed for B
	moves := vuln.TagMoves(last, "art-B", []string{"app:v2", "app:latest", "app:v1"})
	// Then latest moves from A to B, v2 is new on B, v1 stays
	assert.Equal(t, []vuln.TagMove{{Tag: "app:latest", From: "art-A", To: "art-B"}, {Tag: "app:v2", From: "", To: "art-B"}}, moves)
}
