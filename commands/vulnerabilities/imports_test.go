package vulnerabilities_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	registriesproj "github.com/cspm-es/cspm-es/projections/containerregistries"
	"github.com/cspm-es/cspm-es/projections/fold"
	vulnproj "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

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

// TestImport_Samples: every sample imports; the counts are the parser's
// (platform/parsers/trivy TestSamples_Counts), seen at the read models.
func TestImport_Samples(t *testing.T) {
	for _, tc := range []struct {
		file                                        string
		kind                                        vuln.ArtifactKind
		basis                                       vuln.IdentityBasis
		occurrences, catalog, registryImages, confs int
		unpinned                                    bool
	}{
		{alpine, vuln.ArtifactImage, vuln.BasisImageID, 4, 2, 1, 0, false},
		{stretch, vuln.ArtifactImage, vuln.BasisImageID, 5, 2, 0, 0, false},
		{spring, vuln.ArtifactImage, vuln.BasisImageID, 1, 1, 0, 0, false},
		{statuses, vuln.ArtifactImage, vuln.BasisImageID, 8, 8, 0, 0, false},
		{jar, vuln.ArtifactFilesystem, vuln.BasisPath, 3, 3, 0, 0, false},
		{teamdojo, vuln.ArtifactImage, vuln.BasisName, 5, 5, 0, 0, true},
		{misconfig, vuln.ArtifactFilesystem, vuln.BasisPath, 2, 2, 0, 3, false},
		{legacy, vuln.ArtifactImage, vuln.BasisName, 3, 2, 0, 0, true},
		{unmasked, vuln.ArtifactFilesystem, vuln.BasisPath, 0, 0, 0, 2, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t)
			res, err := f.importBytes(t, teamA, sample(t, tc.file))
			require.NoError(t, err)
			assert.Equal(t, vulncmd.StatusCompleted, res.Status)
			require.NotNil(t, res.Identity)
			assert.Equal(t, tc.kind, res.Identity.Kind)
			assert.Equal(t, tc.basis, res.Identity.Basis)
			assert.Equal(t, tc.unpinned, len(res.Warnings) > 0, "a warning for an image without a digest")
			assert.Equal(t, tc.occurrences, res.Counts.Occurrences)

			tx := project(t, f.events(t))
			assert.Len(t, tx.Colls[vulnproj.OccurrencesCollection], tc.occurrences)
			for _, d := range tx.Colls[vulnproj.OccurrencesCollection] {
				assert.Equal(t, "open", d["status"])
				assert.Equal(t, "new", d["lifecycle"])
				assert.Equal(t, teamA, d["team_id"])
				assert.Equal(t, res.ArtifactID, d["artifact_id"])
				assert.Equal(t, false, d["kev"])
			}
			assert.Len(t, tx.Colls[vulnproj.CatalogCollection], tc.catalog)
			assert.Len(t, tx.Colls[vulnproj.ArtifactsCollection], 1)
			assert.Len(t, tx.Colls[registriesproj.ImagesCollection], tc.registryImages)
			assert.Len(t, tx.Colls[vulnproj.ConfigCollection], tc.confs)
			art := tx.Colls[vulnproj.ArtifactsCollection][vulnproj.ArtifactDocID(teamA, res.ArtifactID)]
			require.NotNil(t, art)
			assert.EqualValues(t, tc.occurrences, art["open"])
		})
	}
}

// TestImport_AlpineImage: what the registry sample says of its image.
func TestImport_AlpineImage(t *testing.T) {
	f := newFixture(t)
	res, err := f.importBytes(t, teamA, sample(t, alpine))
	require.NoError(t, err)
	tx := project(t, f.events(t))
	art := tx.Colls[vulnproj.ArtifactsCollection][vulnproj.ArtifactDocID(teamA, res.ArtifactID)]
	assert.Equal(t, []any{"alpine:3.10"}, art["tags"])
	assert.Equal(t, true, art["eosl"])
	assert.Equal(t, map[string]any{"medium": int64(4)}, art["open_by_severity"])
	ri := docs(tx, registriesproj.ImagesCollection, nil)
	require.Len(t, ri, 1)
	assert.Equal(t, teamA, ri[0]["account_id"])
	assert.Equal(t, "alpine", ri[0]["repository_name"])
	assert.Equal(t, "docker.io", ri[0]["registry"])
	assert.True(t, strings.HasPrefix(ri[0]["image_digest"].(string), "sha256:"))
	assert.Equal(t, []any{"3.10"}, ri[0]["tags"])
	assert.Len(t, tx.Colls[registriesproj.RepositoriesCollection], 1)
	assert.Len(t, tx.Colls[registriesproj.RegistriesCollection], 1)
	// The same CVE on two packages is two occurrences, one catalog entry.
	byVuln := map[string]int{}
	for _, d := range tx.Colls[vulnproj.OccurrencesCollection] {
		byVuln[d["vulnerability_id"].(string)]++
	}
	assert.Len(t, byVuln, 2)
	for id, n := range byVuln {
		assert.Equal(t, 2, n, id)
	}
}

// TestImport_IdempotentByContent: the same bytes again append nothing;
// another team gets its own import and occurrences.
func TestImport_IdempotentByContent(t *testing.T) {
	f := newFixture(t)
	first, err := f.importBytes(t, teamA, sample(t, alpine))
	require.NoError(t, err)
	head := f.Head(t)
	again, err := f.importBytes(t, teamA, sample(t, alpine))
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.ImportID, again.ImportID)
	assert.Equal(t, head, f.Head(t), "nothing appended")

	other, err := f.importBytes(t, teamB, sample(t, alpine))
	require.NoError(t, err)
	assert.NotEqual(t, first.ImportID, other.ImportID)
	assert.False(t, other.Duplicate)
	tx := project(t, f.events(t))
	assert.Len(t, tx.Colls[vulnproj.OccurrencesCollection], 8, "4 per team")
	assert.Len(t, tx.Colls[vulnproj.CatalogCollection], 2, "the catalog is shared")
}

// TestImport_RejectedWhole: a report cut short is refused: its rejection
// alone is recorded, nothing else changes.
func TestImport_RejectedWhole(t *testing.T) {
	f := newFixture(t)
	b := sample(t, alpine)
	res, err := f.importBytes(t, teamA, b[:len(b)*2/3])
	var rej *vulncmd.RejectedError
	require.True(t, errors.As(err, &rej), "%v", err)
	assert.Equal(t, vulncmd.StatusRejected, res.Status)
	evs := f.events(t)
	require.Len(t, evs, 1)
	assert.Equal(t, vuln.ScanImportRejected{}.EventType(), evs[0].Type)
	tx := project(t, evs)
	assert.Empty(t, tx.Colls[vulnproj.OccurrencesCollection])
	assert.Empty(t, tx.Colls[vulnproj.CatalogCollection])
	assert.Equal(t, "rejected", tx.Colls[vulnproj.ImportsCollection][res.ImportID]["status"])
}

// TestImport_SecretsNeverStored: no 6-byte piece of the unmasked secrets
// of the sample is in any stored event.
func TestImport_SecretsNeverStored(t *testing.T) {
	f := newFixture(t)
	b := sample(t, unmasked)
	secrets := []string{"wJalrXUtnFEMIzK7MDENGzbPxRfiCYzz9q8s7t6u", "AKIAZZQQXXVVWW112233", "ghp_Zq9xW8vU7tS6rR5qP4oN3mL2kJ1iH0gF9eDcB"}
	for _, s := range secrets {
		require.Contains(t, string(b), s)
	}
	_, err := f.importBytes(t, teamA, b)
	require.NoError(t, err)
	var stored bytes.Buffer
	for _, ev := range f.events(t) {
		stored.Write(ev.RecordedEvent.Data)
	}
	require.NotZero(t, stored.Len())
	for _, s := range secrets {
		for i := 0; i+6 <= len(s); i++ {
			assert.NotContains(t, stored.String(), s[i:i+6])
		}
	}
	assert.Contains(t, stored.String(), "aws-secret-access-key", "the rule is kept")
}

// generated is a trivygen report of seed under tag, created at at.
func generated(t *testing.T, seed uint64, tag string, n int, at time.Time) []byte {
	var buf bytes.Buffer
	_, err := trivygen.Write(&buf, trivygen.Options{Seed: seed, Occurrences: n, Tag: tag})
	require.NoError(t, err)
	return bytes.Replace(buf.Bytes(), []byte(`"2026-01-15T08:00:00.123456789Z"`), []byte(`"`+at.Format(time.RFC3339Nano)+`"`), 1)
}

var day1 = time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)

// TestImport_TagMovedToNewDigest: the same tag scanned before and after a
// rebuild is two artifacts; the second scan fixes nothing of the first;
// the tag moves (an event) and leaves the old image.
func TestImport_TagMovedToNewDigest(t *testing.T) {
	f := newFixture(t)
	const tag = "registry.example.com/app:latest"
	r1, err := f.importBytes(t, teamA, generated(t, 1, tag, 40, day1))
	require.NoError(t, err)
	r2, err := f.importBytes(t, teamA, generated(t, 2, tag, 40, day1.Add(24*time.Hour)))
	require.NoError(t, err)
	require.NotEqual(t, r1.ArtifactID, r2.ArtifactID, "a moved tag is a new artifact")

	evs := f.events(t)
	var moves []vuln.ImageTagMoved
	for _, ev := range evs {
		if m, ok := ev.Data.(vuln.ImageTagMoved); ok {
			moves = append(moves, m)
		}
	}
	require.Len(t, moves, 2)
	assert.Equal(t, vuln.ImageTagMoved{Tag: tag, From: "", To: r1.ArtifactID, ImportID: r1.ImportID, MovedAt: day1}, moves[0])
	assert.Equal(t, r1.ArtifactID, moves[1].From)
	assert.Equal(t, r2.ArtifactID, moves[1].To)

	tx := project(t, evs)
	open := map[string]int{}
	for _, d := range tx.Colls[vulnproj.OccurrencesCollection] {
		assert.Equal(t, "open", d["status"], "nothing fixed on the old artifact by a scan of the new one")
		open[d["artifact_id"].(string)]++
	}
	assert.Equal(t, map[string]int{r1.ArtifactID: 40, r2.ArtifactID: 40}, open)
	a1 := tx.Colls[vulnproj.ArtifactsCollection][vulnproj.ArtifactDocID(teamA, r1.ArtifactID)]
	a2 := tx.Colls[vulnproj.ArtifactsCollection][vulnproj.ArtifactDocID(teamA, r2.ArtifactID)]
	assert.Equal(t, []any{}, a1["tags"], "the moved tag left the old image")
	assert.Equal(t, []any{tag}, a2["tags"])
	for _, d := range tx.Colls[registriesproj.ImagesCollection] {
		if d["artifact_id"] == r1.ArtifactID {
			assert.Equal(t, []any{}, d["tags"])
		} else {
			assert.Equal(t, []any{"latest"}, d["tags"])
		}
	}

	// A late import of an older scan does not move the tag back.
	_, err = f.importBytes(t, teamA, generated(t, 1, tag, 40, day1.Add(-24*time.Hour)))
	require.NoError(t, err)
	tx = project(t, f.events(t))
	assert.Equal(t, []any{tag}, tx.Colls[vulnproj.ArtifactsCollection][vulnproj.ArtifactDocID(teamA, r2.ArtifactID)]["tags"])
}

// edited is the alpine sample created at at, without the vulnerability
// rows drop says to leave out.
func edited(t *testing.T, at time.Time, drop func(v map[string]any) bool) []byte {
	var rep map[string]any
	require.NoError(t, json.Unmarshal(sample(t, alpine), &rep))
	rep["CreatedAt"] = at.Format(time.RFC3339Nano)
	for _, r := range rep["Results"].([]any) {
		res := r.(map[string]any)
		vs, _ := res["Vulnerabilities"].([]any)
		kept := []any{}
		for _, v := range vs {
			if drop == nil || !drop(v.(map[string]any)) {
				kept = append(kept, v)
			}
		}
		res["Vulnerabilities"] = kept
	}
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	return b
}

// TestRescan_FixesAndReopens: a re-scan of the artifact without a
// vulnerability fixes its occurrences; reappearing reopens them.
func TestRescan_FixesAndReopens(t *testing.T) {
	f := newFixture(t)
	_, err := f.importBytes(t, teamA, edited(t, day1, nil))
	require.NoError(t, err)
	gone := func(v map[string]any) bool { return v["PkgName"] == "libssl1.1" }
	r2, err := f.importBytes(t, teamA, edited(t, day1.Add(24*time.Hour), gone))
	require.NoError(t, err)
	r3, err := f.importBytes(t, teamA, edited(t, day1.Add(48*time.Hour), nil))
	require.NoError(t, err)

	evs := f.events(t)
	// After the second scan: libssl1.1's two occurrences fixed by it.
	var upTo2 []projections.Event
	for _, ev := range evs {
		upTo2 = append(upTo2, ev)
		if s, ok := ev.Data.(vuln.ArtifactScanned); ok && s.ImportID == r2.ImportID {
			break
		}
	}
	tx := project(t, upTo2)
	status := map[string]int{}
	for _, d := range tx.Colls[vulnproj.OccurrencesCollection] {
		status[d["status"].(string)+"/"+d["lifecycle"].(string)]++
		if d["status"] == "fixed" {
			assert.Equal(t, "libssl1.1", fold.Obj(d, "package")["name"])
			assert.Equal(t, r2.ImportID, d["fixed_by_scan"])
		}
	}
	assert.Equal(t, map[string]int{"open/new": 2, "fixed/fixed": 2}, status)

	tx = project(t, evs)
	status = map[string]int{}
	for _, d := range tx.Colls[vulnproj.OccurrencesCollection] {
		status[d["status"].(string)+"/"+d["lifecycle"].(string)]++
		if d["lifecycle"] == "reopened" {
			assert.EqualValues(t, 1, d["times_reopened"])
			assert.Equal(t, readmodel.NormalizeTime(day1.Add(48*time.Hour)), d["last_seen"])
		}
	}
	assert.Equal(t, map[string]int{"open/new": 2, "open/reopened": 2}, status)
	_ = r3

	// Order independence: the streams interleaved at random (each in its
	// own order) give the same documents; a rebuild gives them again.
	want := project(t, evs)
	for seed := range uint64(20) {
		got := project(t, interleave(evs, seed))
		if !assert.Equal(t, want.Colls, got.Colls, "seed %d", seed) {
			diffColls(t, want.Colls, got.Colls)
			t.FailNow()
		}
	}
}

// TestOrderIndependence_TagsAndScans: the moved-tag scenario in any
// interleaving of its streams.
func TestOrderIndependence_TagsAndScans(t *testing.T) {
	f := newFixture(t)
	const tag = "registry.example.com/app:latest"
	for i, seed := range []uint64{1, 2, 1, 3} {
		_, err := f.importBytes(t, teamA, generated(t, seed, tag, 30, day1.Add(time.Duration(i)*24*time.Hour)))
		require.NoError(t, err)
	}
	evs := f.events(t)
	want := project(t, evs)
	for seed := range uint64(20) {
		got := project(t, interleave(evs, seed))
		if !assert.Equal(t, want.Colls, got.Colls, "seed %d", seed) {
			diffColls(t, want.Colls, got.Colls)
			t.FailNow()
		}
	}
}

// interleave shuffles events across streams, keeping each stream's order.
func interleave(evs []projections.Event, seed uint64) []projections.Event {
	byStream := map[string][]projections.Event{}
	var ids []string
	for _, ev := range evs {
		if _, ok := byStream[ev.StreamID]; !ok {
			ids = append(ids, ev.StreamID)
		}
		byStream[ev.StreamID] = append(byStream[ev.StreamID], ev)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	var out []projections.Event
	for len(ids) > 0 {
		i := r.IntN(len(ids))
		s := ids[i]
		out = append(out, byStream[s][0])
		byStream[s] = byStream[s][1:]
		if len(byStream[s]) == 0 {
			ids = slices.Delete(ids, i, i+1)
		}
	}
	return out
}

// TestCatalog_NewerReportUpdates: a newer record of an id updates the
// entry, naming the fields; an older one changes nothing.
func TestCatalog_NewerReportUpdates(t *testing.T) {
	f := newFixture(t)
	_, err := f.importBytes(t, teamA, sample(t, alpine))
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(sample(t, alpine), &rep))
	rep["CreatedAt"] = "2030-01-01T00:00:00Z"
	var id string
	for _, r := range rep["Results"].([]any) {
		for _, v := range r.(map[string]any)["Vulnerabilities"].([]any) {
			vm := v.(map[string]any)
			if id == "" || vm["VulnerabilityID"] == id {
				id = vm["VulnerabilityID"].(string)
				vm["Title"] = "a better title"
				vm["LastModifiedDate"] = "2029-01-01T00:00:00Z"
			}
		}
	}
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	_, err = f.importBytes(t, teamB, b)
	require.NoError(t, err)
	var updates []vuln.VulnerabilityUpdated
	for _, ev := range f.events(t) {
		if u, ok := ev.Data.(vuln.VulnerabilityUpdated); ok {
			updates = append(updates, u)
		}
	}
	require.Len(t, updates, 1)
	assert.Equal(t, id, updates[0].Record.ID)
	assert.ElementsMatch(t, []string{"title", "last_modified_at"}, updates[0].Changed)
	tx := project(t, f.events(t))
	entry := tx.Colls[vulnproj.CatalogCollection][id]
	assert.Equal(t, "a better title", entry["title"])
	assert.Equal(t, []any{"title", "last_modified_at"}, sortedAny(entry["changed"]))

	// The first report again (another team: a new import) changes nothing.
	head := len(f.events(t))
	_, err = f.importBytes(t, "team-c", sample(t, alpine))
	require.NoError(t, err)
	for _, ev := range f.events(t)[head:] {
		assert.NotEqual(t, vuln.VulnerabilityUpdated{}.EventType(), ev.Type)
		assert.NotEqual(t, vuln.VulnerabilityCataloged{}.EventType(), ev.Type)
	}
}

func sortedAny(v any) []any {
	l, _ := v.([]any)
	out := slices.Clone(l)
	slices.SortFunc(out, func(a, b any) int { return -strings.Compare(a.(string), b.(string)) })
	return out
}

func diffColls(t *testing.T, want, got map[string]map[string]readmodel.Doc) {
	for c, ds := range want {
		for id, d := range ds {
			g := got[c][id]
			for k, v := range d {
				if !assert.ObjectsAreEqual(v, g[k]) {
					t.Logf("%s/%s.%s: want %v got %v", c, id, k, v, g[k])
				}
			}
		}
		if len(ds) != len(got[c]) {
			t.Logf("%s: %d vs %d docs", c, len(ds), len(got[c]))
		}
	}
}
