// Package containerregistries projects what image scans say of container
// registries into cspm_container_registries: each team's registries and
// repositories with their last sync (the latest scan of an image pulled
// from them), and registry_images, one per (account, repository, image
// digest), with the tags that name it now (a moved tag leaves the old
// image). The account of a registry image is the team that scanned it
// (decision 50): a Trivy report names no registry account.
package containerregistries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Name of the projection and its collections.
const (
	Name = "containerregistries.registry_images"

	ImagesCollection       = "registry_images"
	RepositoriesCollection = "repositories"
	RegistriesCollection   = "registries"
)

// RegistryImages is the projection.
type RegistryImages struct{}

var _ projections.Projection = RegistryImages{}

// New returns the projection.
func New() RegistryImages { return RegistryImages{} }

func (RegistryImages) Name() string                  { return Name }
func (RegistryImages) Database() dbregistry.Constant { return dbregistry.CONTAINER_REGISTRY }
func (RegistryImages) EventTypes() []string {
	return []string{vuln.ArtifactScanned{}.EventType(), vuln.ImageTagMoved{}.EventType()}
}

// Collections: registry_images has the seed's unique index.
func (RegistryImages) Collections() []readmodel.CollectionSpec {
	f := func(p string, desc bool) readmodel.IndexField { return readmodel.IndexField{Path: p, Desc: desc} }
	return []readmodel.CollectionSpec{
		{Name: ImagesCollection, Indexes: []readmodel.Index{
			{Name: "uniq_account_repo_digest", Unique: true, Fields: []readmodel.IndexField{f("account_id", false), f("repository_name", false), f("image_digest", false)}},
			{Name: "by_team_repo_scanned", Fields: []readmodel.IndexField{f("team_id", false), f("repository_name", false), f("last_scanned_at", true)}},
		}},
		{Name: RepositoriesCollection, Indexes: []readmodel.Index{
			{Name: "by_team_registry", Fields: []readmodel.IndexField{f("team_id", false), f("registry", false), f("last_sync_at", true)}},
		}},
		{Name: RegistriesCollection, Indexes: []readmodel.Index{
			{Name: "by_team", Fields: []readmodel.IndexField{f("team_id", false), f("last_sync_at", true)}},
		}},
	}
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// ImageDocID is a team's image of artifact in repository.
func ImageDocID(team, repository, artifact string) string {
	return "ri-" + digest(team, repository, artifact)
}

// RepositoryDocID is a team's repository.
func RepositoryDocID(team, repository string) string { return "rr-" + digest(team, repository) }

// RegistryDocID is a team's registry.
func RegistryDocID(team, registry string) string { return "rg-" + digest(team, registry) }

// RegistryOf is the registry host of a repository name ("docker.io" when
// it names none, as Docker reads "alpine" or "library/alpine").
func RegistryOf(repository string) string {
	first, _, ok := strings.Cut(repository, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

// SplitTag splits "registry/repo:tag" into repository and tag.
func SplitTag(ref string) (repository, tag string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i <= strings.LastIndex(ref, "/") || i == len(ref)-1 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// Apply implements projections.Projection.
func (RegistryImages) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case vuln.ArtifactScanned:
		err = scanned(ctx, tx, team, e)
	case vuln.ImageTagMoved:
		err = moved(ctx, tx, team, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return nil
}

// scanned records the images a scan pulled from registries (its repo
// digests; an image built locally has none and is no registry's).
func scanned(ctx context.Context, tx projections.Tx, team string, e vuln.ArtifactScanned) error {
	for _, rd := range e.Artifact.RepoDigests {
		repo, err := repository(ctx, tx, team, rd.Repository)
		if err != nil {
			return err
		}
		id := ImageDocID(team, rd.Repository, e.ArtifactID)
		d, found, err := fold.Get(ctx, tx, ImagesCollection, id)
		if err != nil {
			return err
		}
		if !found {
			d = readmodel.Doc{"_id": id, "team_id": team, "account_id": team, "repository_name": rd.Repository,
				"registry": RegistryOf(rd.Repository), "image_digest": rd.Digest, "artifact_id": e.ArtifactID,
				"first_scanned_at": readmodel.NormalizeTime(e.ScannedAt)}
		}
		if fold.Time(d, "first_scanned_at").After(e.ScannedAt) {
			d["first_scanned_at"] = readmodel.NormalizeTime(e.ScannedAt)
		}
		if !fold.Time(d, "last_scanned_at").After(e.ScannedAt) {
			d["last_scanned_at"], d["last_import_id"] = readmodel.NormalizeTime(e.ScannedAt), e.ImportID
			d["image_id"], d["os_family"], d["os_name"], d["eosl"] = e.Artifact.ImageID, e.Artifact.OS.Family, e.Artifact.OS.Name, e.Artifact.OS.EOSL
		}
		d["tags"] = repo.tagsOf(e.ArtifactID)
		tx.Put(ImagesCollection, d)
		repo.sync(e.ScannedAt)
		repo.put(tx)
		if err := registrySynced(ctx, tx, team, repo.registry, e.ScannedAt); err != nil {
			return err
		}
	}
	return nil
}

// moved moves a tag between the images of its repository: the latest
// move wins whatever order moves arrive in.
func moved(ctx context.Context, tx projections.Tx, team string, e vuln.ImageTagMoved) error {
	name, tag, ok := SplitTag(e.Tag)
	if !ok {
		return nil
	}
	repo, err := repository(ctx, tx, team, name)
	if err != nil {
		return err
	}
	prev, ok := repo.tags[tag]
	if ok && prev.at.After(e.MovedAt) {
		return nil
	}
	repo.tags[tag] = placement{artifact: e.To, at: e.MovedAt}
	repo.put(tx)
	for _, art := range []string{prev.artifact, e.To} {
		if art == "" {
			continue
		}
		id := ImageDocID(team, name, art)
		d, found, err := fold.Get(ctx, tx, ImagesCollection, id)
		if err != nil {
			return err
		}
		if found {
			d["tags"] = repo.tagsOf(art)
			tx.Put(ImagesCollection, d)
		}
	}
	return nil
}

type placement struct {
	artifact string
	at       time.Time
}

type repoDoc struct {
	id, team, name, registry string
	lastSync                 time.Time
	tags                     map[string]placement
}

func repository(ctx context.Context, tx projections.Tx, team, name string) (*repoDoc, error) {
	id := RepositoryDocID(team, name)
	d, _, err := fold.Get(ctx, tx, RepositoriesCollection, id)
	if err != nil {
		return nil, err
	}
	r := &repoDoc{id: id, team: team, name: name, registry: RegistryOf(name), lastSync: fold.Time(d, "last_sync_at"), tags: map[string]placement{}}
	for _, t := range fold.Objs(d, "tags") {
		r.tags[fold.Str(t, "tag")] = placement{artifact: fold.Str(t, "artifact_id"), at: fold.Time(t, "moved_at")}
	}
	return r, nil
}

func (r *repoDoc) sync(at time.Time) {
	if at.After(r.lastSync) {
		r.lastSync = at
	}
}

func (r *repoDoc) tagsOf(artifact string) []any {
	out := []any{}
	for _, t := range slices.Sorted(maps.Keys(r.tags)) {
		if r.tags[t].artifact == artifact {
			out = append(out, t)
		}
	}
	return out
}

func (r *repoDoc) put(tx projections.Tx) {
	tags := []any{}
	for _, t := range slices.Sorted(maps.Keys(r.tags)) {
		tags = append(tags, map[string]any{"tag": t, "artifact_id": r.tags[t].artifact, "moved_at": readmodel.NormalizeTime(r.tags[t].at)})
	}
	tx.Put(RepositoriesCollection, readmodel.Doc{"_id": r.id, "team_id": r.team, "name": r.name, "registry": r.registry,
		"last_sync_at": fold.TimeOrNil(r.lastSync), "tags": tags})
}

func registrySynced(ctx context.Context, tx projections.Tx, team, registry string, at time.Time) error {
	id := RegistryDocID(team, registry)
	d, found, err := fold.Get(ctx, tx, RegistriesCollection, id)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "name": registry}
	}
	if !fold.Time(d, "last_sync_at").After(at) {
		d["last_sync_at"] = readmodel.NormalizeTime(at)
	}
	tx.Put(RegistriesCollection, d)
	return nil
}
