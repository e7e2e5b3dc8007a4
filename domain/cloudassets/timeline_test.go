package cloudassets

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func seen(imp string, d int, hash string) Sighting {
	return Sighting{ImportID: imp, At: day(d), Hash: hash, Source: SourceInventory}
}

func kinds(t Timeline) []string {
	var out []string
	for _, c := range t.Changes {
		out = append(out, c.Kind)
	}
	return out
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("changes %v, want %v", got, want)
		}
	}
}

func TestTimeline_FirstLastSeenAndChanged(t *testing.T) {
	// Given an asset seen by three syncs, its row changed at the third
	var s []Sighting
	s = AddSighting(s, seen("i1", 1, "h1"))
	s = AddSighting(s, seen("i2", 2, "h1"))
	s = AddSighting(s, seen("i3", 3, "h2"))
	// When folded
	tl := Fold(s, nil, time.Time{})
	// Then it is present, first seen day 1, last seen day 3, changed once
	if tl.Status != StatusPresent || !tl.FirstSeen.Equal(day(1)) || !tl.LastSeen.Equal(day(3)) {
		t.Fatalf("timeline %+v", tl)
	}
	eq(t, kinds(tl), []string{ChangeDiscovered, ChangeChanged})
}

func TestTimeline_RemovedOnlyByACompleteSyncThatDidNotSeeIt(t *testing.T) {
	s := []Sighting{seen("i1", 1, "h1")}
	// Given no complete sync after its last sighting, it stays present
	if tl := Fold(s, nil, time.Time{}); tl.Status != StatusPresent {
		t.Fatalf("present expected: %+v", tl)
	}
	// Given a complete sync of its scope that saw it, it stays present
	s2 := AddSighting(s, seen("i2", 2, "h1"))
	if tl := Fold(s2, []Sync{{ImportID: "i2", At: day(2)}}, time.Time{}); tl.Status != StatusPresent {
		t.Fatalf("present expected: %+v", tl)
	}
	// When a complete sync of its scope on day 3 did not see it
	tl := Fold(s2, []Sync{{ImportID: "i2", At: day(2)}, {ImportID: "i3", At: day(3)}}, time.Time{})
	// Then it is removed on day 3
	if tl.Status != StatusRemoved || !tl.RemovedAt.Equal(day(3)) || !tl.LastSeen.Equal(day(2)) {
		t.Fatalf("removed expected: %+v", tl)
	}
	eq(t, kinds(tl), []string{ChangeDiscovered, ChangeRemoved})
	// And a sighting after it brings it back
	s4 := AddSighting(s2, seen("i4", 4, "h1"))
	tl = Fold(s4, []Sync{{ImportID: "i2", At: day(2)}, {ImportID: "i3", At: day(3)}}, time.Time{})
	if tl.Status != StatusPresent {
		t.Fatalf("present expected: %+v", tl)
	}
	eq(t, kinds(tl), []string{ChangeDiscovered, ChangeRemoved, ChangeReappeared})
}

func TestTimeline_AnOlderSyncRemovesNothing(t *testing.T) {
	// Given an asset seen on day 5, when a complete sync of day 3 that
	// did not see it arrives late, then it is still present (discovered
	// after that sync)
	tl := Fold([]Sighting{seen("i5", 5, "h")}, []Sync{{ImportID: "i3", At: day(3)}}, time.Time{})
	if tl.Status != StatusPresent {
		t.Fatalf("present expected: %+v", tl)
	}
}

func TestTimeline_FindingSightingsNeverChangeIt(t *testing.T) {
	// Given an inventory row and a finding's sighting (no hash)
	s := AddSighting(nil, seen("i1", 1, "h1"))
	s = AddSighting(s, Sighting{ImportID: "imp-f", At: day(2), Source: SourceFinding})
	s = AddSighting(s, seen("i3", 3, "h1"))
	tl := Fold(s, nil, time.Time{})
	// Then nothing changed, and it was last seen on day 3
	eq(t, kinds(tl), []string{ChangeDiscovered})
	if !tl.LastSeen.Equal(day(3)) {
		t.Fatalf("%+v", tl)
	}
}

func TestTimeline_OrderOfArrivalDoesNotMatter(t *testing.T) {
	all := []Sighting{seen("a", 1, "h1"), seen("b", 2, "h2"), seen("d", 4, "h2")}
	syncs := []Sync{{ImportID: "c", At: day(3)}, {ImportID: "a", At: day(1)}}
	var fwd, rev []Sighting
	var sf, sr []Sync
	for i := range all {
		fwd = AddSighting(fwd, all[i])
		rev = AddSighting(rev, all[len(all)-1-i])
	}
	for i := range syncs {
		sf = AddSync(sf, syncs[i])
		sr = AddSync(sr, syncs[len(syncs)-1-i])
	}
	a, b := Fold(fwd, sf, time.Time{}), Fold(rev, sr, time.Time{})
	eq(t, kinds(a), kinds(b))
	eq(t, kinds(a), []string{ChangeDiscovered, ChangeChanged, ChangeRemoved, ChangeReappeared})
}

func TestTimeline_SightingsAreBounded(t *testing.T) {
	var s []Sighting
	for i := 0; i < MaxSightings+10; i++ {
		s = AddSighting(s, seen(string(rune('a'+i%26))+time.Duration(i).String(), i, "h"))
	}
	if len(s) != MaxSightings {
		t.Fatalf("%d sightings kept", len(s))
	}
	tl := Fold(s, nil, day(0))
	if !tl.FirstSeen.Equal(day(0)) {
		t.Fatalf("first seen %v", tl.FirstSeen)
	}
}

func TestAssetIdentity(t *testing.T) {
	arn := "arn:aws:s3:::logs"
	// An inventory row and a finding naming the same ARN are one asset,
	// whatever type, region or account each says.
	if Key("aws", "111122223333", "", "aws_s3_bucket", arn) != Key("aws", "111122223333", "us-east-1", "AwsS3Bucket", arn) {
		t.Fatal("ARN keys differ")
	}
	az := "/subscriptions/ABC/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
	if Key("azure", "abc", "", "x", az) != Key("azure", "abc", "", "y", "/subscriptions/abc/resourcegroups/RG/providers/microsoft.storage/storageaccounts/SA") {
		t.Fatal("Azure ids are case-insensitive")
	}
	// Steampipe's akas forms name the same Azure and GCP resources
	if Key("azure", "abc", "", "azure_storage_account", "azure:///subscriptions/abc/resourcegroups/rg/providers/microsoft.storage/storageaccounts/sa") != Key("azure", "abc", "", "x", az) {
		t.Fatal("azure akas")
	}
	if Key("gcp", "p", "", "gcp_compute_instance", "gcp://compute.googleapis.com/projects/p/zones/z/instances/i") != "//compute.googleapis.com/projects/p/zones/z/instances/i" {
		t.Fatal("gcp akas")
	}
	k := Key("aws", "1", "eu-west-1", "aws_vpc", "vpc-1")
	if k != "aws|1|eu-west-1|aws_vpc|vpc-1" || IsGlobalKey(k) {
		t.Fatalf("composite key %q", k)
	}
	id := AssetID("team-a", IdentityAssetV1, arn)
	if !ValidAssetID(id) || id != AssetID("team-a", IdentityAssetV1, arn) || id == AssetID("team-a", IdentityAssetV1, k) || id == AssetID("team-b", IdentityAssetV1, arn) {
		t.Fatalf("asset id %q", id)
	}
	if Key("aws", "1", "r", "t", "  ") != "" {
		t.Fatal("no uid, no key")
	}
}
