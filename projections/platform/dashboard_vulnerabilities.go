package platform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

// The dashboard's vulnerabilities section (decision 57): open KEV
// occurrences by severity, SLA breaches and due within 7 days (both
// modules), and the team's most vulnerable images.
//
// It is its own projection, platform.dashboard_vulnerabilities, folding
// the vulnerabilities, KEV and cloud-security events into cspm_platform:
// the SLA clocks are the fold of vulnerabilities.sla itself (the same
// code, run over this projection's own copies of its collections, named
// "dashboard_" + the SLA collection), so the dashboard's SLA counts are
// the ones GET /api/v1/sla/summary gives by construction, and no query
// joins databases. Each clock the SLA fold writes is then counted here,
// per team and per artifact, from a row recording what the counts hold
// for that clock (as dashboard_findings does for findings):
//
//   - dashboard_vulnerabilities (one per team): open occurrences and open
//     KEV occurrences by severity;
//   - dashboard_vulnerable_images (one per team and artifact): its open
//     occurrences by severity, open KEV ones, kind, digest, repository and
//     tags, indexed by (team, kind, critical, high, total) so the top
//     images are one bounded indexed read of kind "image";
//   - dashboard_sla_summaries: the SLA fold's summary (open clocks by due
//     time, resolved ones by outcome), counted as of now at read.
const (
	DashboardVulnerabilitiesName = "platform.dashboard_vulnerabilities"

	DashboardVulnerabilitiesCollection  = "dashboard_vulnerabilities"   // _id: the team
	DashboardVulnerableImagesCollection = "dashboard_vulnerable_images" // _id: Key(team, artifact id)
	dashboardVulnRowsCollection         = "dashboard_vuln_rows"         // _id: the clock's id: what the counts hold for it
	dashboardVulnTagsCollection         = "dashboard_vuln_tags"         // _id: Key(team, tag): the artifact it names now
	// DashboardSLAPrefix names this projection's copies of the SLA
	// fold's collections: DashboardSLAPrefix + vulnerabilities.SLA*Collection.
	DashboardSLAPrefix = "dashboard_"
)

// DashboardSLASummaryCollection is the SLA summary the dashboard reads.
const DashboardSLASummaryCollection = DashboardSLAPrefix + vulnproj.SLASummaryCollection

// TopImages is how many images the dashboard lists.
const TopImages = 10

// DashboardVulnerabilities is the projection.
type DashboardVulnerabilities struct{}

var _ projections.Projection = DashboardVulnerabilities{}

// NewDashboardVulnerabilities returns the "platform.dashboard_vulnerabilities" projection.
func NewDashboardVulnerabilities() DashboardVulnerabilities { return DashboardVulnerabilities{} }

func (DashboardVulnerabilities) Name() string                  { return DashboardVulnerabilitiesName }
func (DashboardVulnerabilities) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes: the SLA fold's, and the tag moves (the images' tags).
func (DashboardVulnerabilities) EventTypes() []string {
	return append(vulnproj.NewSLA().EventTypes(), vuln.ImageTagMoved{}.EventType())
}

// Collections: the SLA fold's collections under DashboardSLAPrefix
// (without the breach indexes: nothing lists breaches from here), and the
// dashboard's own. The images are read by team, most vulnerable first.
func (DashboardVulnerabilities) Collections() []readmodel.CollectionSpec {
	var out []readmodel.CollectionSpec
	for _, c := range vulnproj.NewSLA().Collections() {
		out = append(out, readmodel.CollectionSpec{Name: DashboardSLAPrefix + c.Name})
	}
	desc := func(p string) readmodel.IndexField { return readmodel.IndexField{Path: p, Desc: true} }
	return append(out,
		readmodel.CollectionSpec{Name: DashboardVulnerabilitiesCollection},
		readmodel.CollectionSpec{Name: DashboardVulnerableImagesCollection, Indexes: []readmodel.Index{{Name: "by_team_kind_rank",
			Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "kind"}, desc("open_critical"), desc("open_high"), desc("open_total")}}}},
		readmodel.CollectionSpec{Name: dashboardVulnRowsCollection},
		readmodel.CollectionSpec{Name: dashboardVulnTagsCollection},
	)
}

// DashboardTopImagesSort is the order of the top images: most open
// critical occurrences first, then most open high, then most open in all
// (then _id, the store's tie-break).
var DashboardTopImagesSort = []readmodel.SortField{readmodel.Desc("open_critical"), readmodel.Desc("open_high"), readmodel.Desc("open_total")}

// slaTx runs the SLA fold over this projection's copies of its
// collections, and notes the clocks it writes.
type slaTx struct {
	tx     projections.Tx
	clocks map[string]bool
}

func (s *slaTx) Get(ctx context.Context, c, id string) (readmodel.Doc, bool, error) {
	return s.tx.Get(ctx, DashboardSLAPrefix+c, id)
}

func (s *slaTx) Put(c string, d readmodel.Doc) {
	s.tx.Put(DashboardSLAPrefix+c, d)
	if c == vulnproj.SLAClocksCollection {
		s.clocks[fold.Str(d, "_id")] = true
	}
}

func (s *slaTx) Delete(c, id string) {
	s.tx.Delete(DashboardSLAPrefix+c, id)
	if c == vulnproj.SLAClocksCollection {
		s.clocks[id] = true
	}
}

// Apply implements projections.Projection.
func (DashboardVulnerabilities) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", DashboardVulnerabilitiesName, err)
	}
	if ev.Type != (vuln.ImageTagMoved{}).EventType() {
		stx := &slaTx{tx: tx, clocks: map[string]bool{}}
		if err := vulnproj.NewSLA().Apply(ctx, stx, ev); err != nil {
			return wrap(err)
		}
		p := &vulnDashPass{ctx: ctx, tx: tx, teams: map[string]readmodel.Doc{}, images: map[string]readmodel.Doc{}}
		for _, id := range slices.Sorted(maps.Keys(stx.clocks)) {
			if err := p.clock(id); err != nil {
				return wrap(err)
			}
		}
		if e, ok := fold.Value(ev.Data).(vuln.ArtifactScanned); ok && ev.Metadata.TeamID != "" {
			if err := p.scanned(ev.Metadata.TeamID, e); err != nil {
				return wrap(err)
			}
		}
		p.flush()
		return nil
	}
	e, ok := fold.Value(ev.Data).(vuln.ImageTagMoved)
	if !ok || ev.Metadata.TeamID == "" {
		return nil
	}
	p := &vulnDashPass{ctx: ctx, tx: tx, teams: map[string]readmodel.Doc{}, images: map[string]readmodel.Doc{}}
	if err := p.tagMoved(ev.Metadata.TeamID, e); err != nil {
		return wrap(err)
	}
	p.flush()
	return nil
}

// vulnDashPass caches the team and image documents one event touches.
type vulnDashPass struct {
	ctx    context.Context
	tx     projections.Tx
	teams  map[string]readmodel.Doc
	images map[string]readmodel.Doc
}

func (p *vulnDashPass) team(team string) (readmodel.Doc, error) {
	if d, ok := p.teams[team]; ok {
		return d, nil
	}
	d, found, err := fold.Get(p.ctx, p.tx, DashboardVulnerabilitiesCollection, team)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": team, "team_id": team}
	}
	p.teams[team] = d
	return d, nil
}

func (p *vulnDashPass) image(team, artifact string) (readmodel.Doc, error) {
	id := Key(team, artifact)
	if d, ok := p.images[id]; ok {
		return d, nil
	}
	d, found, err := fold.Get(p.ctx, p.tx, DashboardVulnerableImagesCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "artifact_id": artifact, "tags": []any{},
			"open_critical": int64(0), "open_high": int64(0), "open_medium": int64(0), "open_low": int64(0),
			"open_unknown": int64(0), "open_total": int64(0), "open_kev": int64(0)}
	}
	p.images[id] = d
	return d, nil
}

func (p *vulnDashPass) flush() {
	for _, id := range slices.Sorted(maps.Keys(p.teams)) {
		p.tx.Put(DashboardVulnerabilitiesCollection, p.teams[id])
	}
	for _, id := range slices.Sorted(maps.Keys(p.images)) {
		p.tx.Put(DashboardVulnerableImagesCollection, p.images[id])
	}
}

// counted is what a clock adds to the counts: an open occurrence (the
// vulnerabilities module) counts by severity and KEV flag, in its team
// and artifact; anything else counts nothing.
type counted struct {
	Team, Artifact, Severity string
	KEV                      bool
}

func countedOf(d readmodel.Doc) (counted, bool) {
	if d == nil || fold.Str(d, "module") != vuln.SLAModuleVulnerabilities || fold.Str(d, "status") != vulnproj.SLAOpen {
		return counted{}, false
	}
	sev := strings.ToLower(fold.Str(d, "severity"))
	switch sev {
	case "critical", "high", "medium", "low":
	default:
		sev = "unknown"
	}
	return counted{Team: fold.Str(d, "team_id"), Artifact: fold.Str(d, "artifact_id"), Severity: sev, KEV: fold.Flag(d, "kev")}, true
}

// clock moves what the counts hold for the clock id to what it is now.
func (p *vulnDashPass) clock(id string) error {
	row, found, err := fold.Get(p.ctx, p.tx, dashboardVulnRowsCollection, id)
	if err != nil {
		return err
	}
	var was counted
	had := found && fold.Flag(row, "counted")
	if had {
		was = counted{Team: fold.Str(row, "team_id"), Artifact: fold.Str(row, "artifact_id"),
			Severity: fold.Str(row, "severity"), KEV: fold.Flag(row, "kev")}
	}
	d, _, err := fold.Get(p.ctx, p.tx, DashboardSLAPrefix+vulnproj.SLAClocksCollection, id)
	if err != nil {
		return err
	}
	now, has := countedOf(d)
	if had == has && was == now {
		return nil
	}
	if had {
		if err := p.add(was, -1); err != nil {
			return err
		}
	}
	if has {
		if err := p.add(now, 1); err != nil {
			return err
		}
		p.tx.Put(dashboardVulnRowsCollection, readmodel.Doc{"_id": id, "counted": true, "team_id": now.Team,
			"artifact_id": now.Artifact, "severity": now.Severity, "kev": now.KEV})
	} else if found {
		p.tx.Delete(dashboardVulnRowsCollection, id)
	}
	return nil
}

func (p *vulnDashPass) add(c counted, n int64) error {
	t, err := p.team(c.Team)
	if err != nil {
		return err
	}
	add(t, []string{"open_by_severity", c.Severity}, n)
	add(t, []string{"open_total"}, n)
	if c.KEV {
		add(t, []string{"kev_open_by_severity", c.Severity}, n)
		add(t, []string{"kev_open_total"}, n)
	}
	img, err := p.image(c.Team, c.Artifact)
	if err != nil {
		return err
	}
	img["open_"+c.Severity] = fold.Num(img, "open_"+c.Severity) + n
	img["open_total"] = fold.Num(img, "open_total") + n
	if c.KEV {
		img["open_kev"] = fold.Num(img, "open_kev") + n
	}
	return nil
}

// add adds n at path, dropping cells and objects that become empty, so the
// document is the same whatever order the clocks moved in.
func add(m map[string]any, path []string, n int64) {
	k := path[0]
	if len(path) == 1 {
		if v := fold.Num(m, k) + n; v == 0 {
			delete(m, k)
		} else {
			m[k] = v
		}
		return
	}
	next := fold.Obj(m, k)
	if next == nil {
		next = map[string]any{}
		m[k] = next
	}
	add(next, path[1:], n)
	if len(next) == 0 {
		delete(m, k)
	}
}

// scanned keeps what the latest scan of an image says of it: its digest
// (the artifact's identity key, or its image id) and repository.
func (p *vulnDashPass) scanned(team string, e vuln.ArtifactScanned) error {
	img, err := p.image(team, e.ArtifactID)
	if err != nil {
		return err
	}
	at := readmodel.NormalizeTime(e.ScannedAt)
	if last := fold.Time(img, "last_scanned_at"); !last.IsZero() && last.After(at) {
		return nil
	}
	a := e.Artifact
	digest, repo := a.ImageID, ""
	if len(a.RepoDigests) > 0 {
		digest, repo = a.RepoDigests[0].Digest, a.RepoDigests[0].Repository
	}
	if digest == "" && e.Identity.Pinned() {
		digest = e.Identity.Key
	}
	if repo == "" {
		repo = repositoryOf(a.Name)
	}
	img["last_scanned_at"], img["kind"], img["name"] = at, string(e.Identity.Kind), a.Name
	img["digest"], img["image_id"], img["repository"] = digest, a.ImageID, repo
	return nil
}

// repositoryOf is the repository of an image reference (name:tag or
// name@digest).
func repositoryOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// tagMoved places a tag on the artifact it names now: the latest move
// wins (then the greater artifact id, whatever order equal moves came in).
func (p *vulnDashPass) tagMoved(team string, e vuln.ImageTagMoved) error {
	id := Key(team, e.Tag)
	d, found, err := fold.Get(p.ctx, p.tx, dashboardVulnTagsCollection, id)
	if err != nil {
		return err
	}
	at := readmodel.NormalizeTime(e.MovedAt)
	if found {
		cur := fold.Time(d, "moved_at")
		if cur.After(at) || (cur.Equal(at) && fold.Str(d, "artifact_id") >= e.To) {
			return nil
		}
	}
	prev := fold.Str(d, "artifact_id")
	p.tx.Put(dashboardVulnTagsCollection, readmodel.Doc{"_id": id, "team_id": team, "tag": e.Tag, "artifact_id": e.To, "moved_at": at})
	if prev != "" && prev != e.To {
		if err := p.setTag(team, prev, e.Tag, false); err != nil {
			return err
		}
	}
	return p.setTag(team, e.To, e.Tag, true)
}

func (p *vulnDashPass) setTag(team, artifact, tag string, on bool) error {
	img, err := p.image(team, artifact)
	if err != nil {
		return err
	}
	tags := fold.Strs(img, "tags")
	i, has := slices.BinarySearch(tags, tag)
	switch {
	case on && !has:
		tags = slices.Insert(tags, i, tag)
	case !on && has:
		tags = slices.Delete(tags, i, i+1)
	}
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = t
	}
	img["tags"] = out
	return nil
}
