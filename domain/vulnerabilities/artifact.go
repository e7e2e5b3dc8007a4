package vulnerabilities

import (
	"fmt"
	"slices"
	"strings"
)

// ArtifactKind is what a scan looked at.
type ArtifactKind string

const (
	// ArtifactImage: a container image (Trivy "container_image"), from a
	// registry, a daemon or a tarball.
	ArtifactImage ArtifactKind = "image"
	// ArtifactFilesystem: a directory or file (Trivy "filesystem").
	ArtifactFilesystem ArtifactKind = "fs"
	// ArtifactRepository: a git repository (Trivy "repository").
	ArtifactRepository ArtifactKind = "repo"
	// ArtifactRootfs: an unpacked root filesystem (Trivy "rootfs").
	ArtifactRootfs ArtifactKind = "rootfs"
)

// ParseArtifactKind accepts our names and Trivy's ArtifactType values
// (container_image, filesystem, repository, rootfs; vm and sbom are not
// supported); ok is false otherwise.
func ParseArtifactKind(s string) (ArtifactKind, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "image", "container_image":
		return ArtifactImage, true
	case "fs", "filesystem":
		return ArtifactFilesystem, true
	case "repo", "repository":
		return ArtifactRepository, true
	case "rootfs":
		return ArtifactRootfs, true
	}
	return "", false
}

// OS is the operating system a scan detected in an artifact. EOSL is true
// when the scanner said the distribution's version is past its end of
// support (Trivy Metadata.OS.EOSL): a signal on the artifact of its own,
// whatever its vulnerabilities.
type OS struct {
	Family string `json:"family,omitempty"`
	Name   string `json:"name,omitempty"`
	EOSL   bool   `json:"eosl,omitempty"`
}

// RepoDigest is one registry reference of an image: a repository and the
// manifest digest the registry knows it by ("alpine" and "sha256:b1c5...").
type RepoDigest struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// ParseRepoDigest splits "repo@sha256:hex"; ok is false when s is not one.
func ParseRepoDigest(s string) (RepoDigest, bool) {
	repo, digest, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok || repo == "" || !IsDigest(digest) {
		return RepoDigest{}, false
	}
	return RepoDigest{Repository: repo, Digest: strings.ToLower(digest)}, true
}

// IsDigest reports "<algorithm>:<hex>" with sha256 (64 hex digits) or
// sha512 (128).
func IsDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch strings.ToLower(alg) {
	case "sha256":
		if len(hex) != 64 {
			return false
		}
	case "sha512":
		if len(hex) != 128 {
			return false
		}
	default:
		return false
	}
	for _, c := range strings.ToLower(hex) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Artifact is what one scan report describes.
type Artifact struct {
	Kind ArtifactKind `json:"kind"`
	// Name as the scanner was given it: an image reference (alpine:3.10),
	// a tarball path, a directory, a repository URL. A label, never the
	// identity of an image.
	Name string `json:"name"`
	// ImageID is the image's config digest (Trivy Metadata.ImageID): the
	// same for the same image content wherever it was pulled from or
	// loaded, one per platform.
	ImageID string `json:"image_id,omitempty"`
	// RepoDigests are the registry references (manifest digests) the image
	// was pulled by, sorted; empty for a tarball or a local build.
	RepoDigests []RepoDigest `json:"repo_digests,omitempty"`
	// Tags are the image's tags (Trivy Metadata.RepoTags), sorted: labels
	// that move between artifacts.
	Tags []string `json:"tags,omitempty"`
	OS   OS       `json:"os,omitzero"`
	// Repository scans: the commit and branch scanned, when given.
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
}

// IdentityBasis says what an artifact's identity was taken from.
type IdentityBasis string

const (
	// BasisImageID: the image's config digest (decision 46).
	BasisImageID IdentityBasis = "image_id"
	// BasisRepoDigest: no ImageID in the report (older Trivy); the first
	// registry manifest digest.
	BasisRepoDigest IdentityBasis = "repo_digest"
	// BasisName: an image report with no digest at all (a legacy or
	// redacted report): the name, which is not pinned to content. A caller
	// may refuse such an artifact or ask for its digest.
	BasisName IdentityBasis = "name"
	// BasisPath: a filesystem, rootfs or repository scan: its kind and
	// name (path or repository URL).
	BasisPath IdentityBasis = "path"
)

// ArtifactIdentity is an artifact's key: a moved tag is a new artifact, a
// re-scan of the same content is the same one.
type ArtifactIdentity struct {
	Kind  ArtifactKind  `json:"kind"`
	Basis IdentityBasis `json:"basis"`
	// Key is the digest (image_id, repo_digest) or the name (name, path).
	Key string `json:"key"`
}

// Pinned reports an identity taken from content (a digest).
func (id ArtifactIdentity) Pinned() bool {
	return id.Basis == BasisImageID || id.Basis == BasisRepoDigest
}

// ID is the artifact's id: "art-" and 32 hex digits over kind and key.
func (id ArtifactIdentity) ID() string {
	return "art-" + digest(string(id.Kind), id.Key)
}

// Identity applies the artifact identity rule (decision 46): an image is
// its ImageID (config digest), else its first repo digest, else its name
// (unpinned); any other artifact is its kind and name.
func (a Artifact) Identity() (ArtifactIdentity, error) {
	switch a.Kind {
	case ArtifactImage:
		switch {
		case IsDigest(a.ImageID):
			return ArtifactIdentity{Kind: a.Kind, Basis: BasisImageID, Key: strings.ToLower(a.ImageID)}, nil
		case len(a.RepoDigests) > 0:
			return ArtifactIdentity{Kind: a.Kind, Basis: BasisRepoDigest, Key: a.RepoDigests[0].Digest}, nil
		case strings.TrimSpace(a.Name) != "":
			return ArtifactIdentity{Kind: a.Kind, Basis: BasisName, Key: strings.TrimSpace(a.Name)}, nil
		}
		return ArtifactIdentity{}, fmt.Errorf("artifact identity: an image with no ImageID, no repo digest and no name")
	case ArtifactFilesystem, ArtifactRepository, ArtifactRootfs:
		if strings.TrimSpace(a.Name) == "" {
			return ArtifactIdentity{}, fmt.Errorf("artifact identity: a %s artifact with no name", a.Kind)
		}
		return ArtifactIdentity{Kind: a.Kind, Basis: BasisPath, Key: strings.TrimSpace(a.Name)}, nil
	}
	return ArtifactIdentity{}, fmt.Errorf("artifact identity: unknown kind %q", a.Kind)
}

// Normalize sorts and dedups the tags and repo digests and drops empty
// ones (a redacted report writes RepoTags [""]).
func (a *Artifact) Normalize() {
	a.Tags = sortedUnique(a.Tags)
	ds := a.RepoDigests[:0:0]
	for _, d := range a.RepoDigests {
		if d.Repository != "" && d.Digest != "" && !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	slices.SortFunc(ds, func(x, y RepoDigest) int {
		if c := strings.Compare(x.Repository, y.Repository); c != 0 {
			return c
		}
		return strings.Compare(x.Digest, y.Digest)
	})
	if len(ds) == 0 {
		ds = nil
	}
	a.RepoDigests = ds
}

// TagMove is a tag that a scan saw on an artifact other than the one it
// was last seen on.
type TagMove struct {
	Tag  string `json:"tag"`
	From string `json:"from"` // artifact id; "" when the tag is new
	To   string `json:"to"`
}

// TagMoves says which of tags (seen on artifact to) move, given where each
// tag was last seen (tag -> artifact id): a tag seen on another artifact,
// or never seen, moves to this one; sorted by tag.
func TagMoves(lastSeen map[string]string, to string, tags []string) []TagMove {
	var out []TagMove
	for _, t := range sortedUnique(tags) {
		if from := lastSeen[t]; from != to {
			out = append(out, TagMove{Tag: t, From: from, To: to})
		}
	}
	return out
}

func sortedUnique(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
