package cloudassets_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudassets"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

var p = cloudassets.NewAssets()

func TestAssets_CompleteSyncRemovesWhatItDidNotSee(t *testing.T) {
	t.Parallel()
	a, b, c := bucket("a", "us-east-1", 1), bucket("b", "us-east-1", 1), bucket("c", "us-east-1", 1)
	// Given a complete sync of a, b, c, then one of a (changed) and b
	s1 := sync("team-a", "inv-1", 1, cadomain.SyncComplete, 1, a, b, c)
	s2 := sync("team-a", "inv-2", 2, cadomain.SyncComplete, 10, bucket("a", "us-east-1", 2), b)
	tx := apply(t, p, slices.Concat(s1, s2)...)
	// Then c is removed at the second sync, a changed, b unchanged
	dc := asset(t, tx, "team-a", c)
	assert.Equal(t, cadomain.StatusRemoved, dc["status"])
	assert.Equal(t, t0.Add(48*3600e9), dc["removed_at"])
	assert.Equal(t, t0.Add(24*3600e9), dc["last_seen"])
	assert.Equal(t, []string{"discovered", "removed"}, kinds(dc))
	da := asset(t, tx, "team-a", a)
	assert.Equal(t, cadomain.StatusPresent, da["status"])
	assert.Equal(t, []string{"discovered", "changed"}, kinds(da))
	assert.Equal(t, "h-a-2", da["hash"])
	assert.Equal(t, []string{"discovered"}, kinds(asset(t, tx, "team-a", b)))
	assert.Equal(t, "aws_s3_bucket", da["type"])
	assert.Equal(t, acct, da["account_id"])
	assert.Equal(t, "us-east-1", da["region"])
	assert.Equal(t, []string{"inventory"}, fold.Strs(da, "sources"))
}

func TestAssets_WhatRemovesNothing(t *testing.T) {
	t.Parallel()
	a, b := bucket("a", "us-east-1", 1), bucket("b", "us-east-1", 1)
	first := sync("team-a", "inv-1", 1, cadomain.SyncComplete, 1, a, b)
	for name, later := range map[string][]projections.Event{
		// A partial sync of a only
		"partial": sync("team-a", "inv-2", 2, cadomain.SyncPartial, 10, a),
		// A complete sync of zero rows: it names no scope
		"zero rows": sync("team-a", "inv-3", 2, cadomain.SyncComplete, 10),
		// A complete sync of another region
		"other scope": sync("team-a", "inv-4", 2, cadomain.SyncComplete, 10, bucket("z", "eu-west-1", 1)),
	} {
		tx := apply(t, p, slices.Concat(first, later)...)
		assert.Equal(t, cadomain.StatusPresent, asset(t, tx, "team-a", b)["status"], name)
	}
	// Rows without a type (no table given) never join a scope a sync completes
	untyped := a
	untyped.Type = ""
	tx := apply(t, p, slices.Concat(sync("team-a", "inv-5", 1, cadomain.SyncComplete, 1, untyped),
		sync("team-a", "inv-6", 2, cadomain.SyncComplete, 10, untyped, b))...)
	assert.Equal(t, cadomain.StatusPresent, asset(t, tx, "team-a", untyped)["status"])
	tx = apply(t, p, slices.Concat(sync("team-a", "inv-5", 1, cadomain.SyncComplete, 1, untyped),
		sync("team-a", "inv-7", 2, cadomain.SyncComplete, 10))...)
	assert.Equal(t, cadomain.StatusPresent, asset(t, tx, "team-a", untyped)["status"])
}

// An asset seen in a finding and in an inventory row is one asset: the
// bucket's ARN names both.
func TestAssets_FindingAndInventoryRowAreOneAsset(t *testing.T) {
	t.Parallel()
	a := bucket("a", "us-east-1", 1)
	inv := sync("team-a", "inv-1", 1, cadomain.SyncComplete, 1, a)
	scan := findingImport("team-a", "scan-1", 2, 100,
		result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::a", csdomain.ResultFail, csdomain.SeverityHigh),
		result("s3_bucket_versioning", "us-east-1", "arn:aws:s3:::a", csdomain.ResultFail, csdomain.SeverityMedium),
		result("s3_bucket_encryption", "us-east-1", "arn:aws:s3:::a", csdomain.ResultPass, csdomain.SeverityHigh),
		result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::other", csdomain.ResultFail, csdomain.SeverityLow),
	)
	tx := apply(t, p, slices.Concat(inv, scan)...)
	require.Len(t, tx.Colls[cloudassets.AssetsCollection], 2, "a, and the bucket only the finding saw")
	d := asset(t, tx, "team-a", a)
	assert.Equal(t, []string{"finding", "inventory"}, fold.Strs(d, "sources"))
	assert.Equal(t, "aws_s3_bucket", d["type"], "the inventory's attributes")
	assert.Equal(t, "AwsS3Bucket", d["resource_type"])
	assert.Equal(t, int64(2), d["open_findings_total"])
	counts := fold.SeverityCountsFrom(fold.Obj(d, "open_findings"))
	assert.Equal(t, int64(1), counts.High)
	assert.Equal(t, int64(1), counts.Medium)
	assert.Equal(t, t0.Add(48*3600e9), d["last_seen"])

	// A second scan fixes the high one: the counts follow
	scan2 := findingImport("team-a", "scan-2", 3, 200,
		result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::a", csdomain.ResultPass, csdomain.SeverityHigh),
		result("s3_bucket_versioning", "us-east-1", "arn:aws:s3:::a", csdomain.ResultFail, csdomain.SeverityMedium),
	)
	tx = apply(t, p, slices.Concat(inv, scan, scan2)...)
	d = asset(t, tx, "team-a", a)
	assert.Equal(t, int64(1), d["open_findings_total"])
	assert.Equal(t, int64(0), fold.SeverityCountsFrom(fold.Obj(d, "open_findings")).High)
	open := 0
	for _, f := range tx.Colls[cloudassets.FindingsCollection] {
		if f["asset_id"] == a.AssetID && f["status"] == csdomain.LifecycleOpen {
			open++
		}
	}
	assert.Equal(t, 1, open)
}

func TestAssets_OrderIndependent(t *testing.T) {
	t.Parallel()
	a, b, c, d := bucket("a", "us-east-1", 1), bucket("b", "us-east-1", 1), bucket("c", "eu-west-1", 1), bucket("d", "us-east-1", 1)
	streams := [][]projections.Event{
		sync("team-a", "inv-1", 1, cadomain.SyncComplete, 1, a, b, c, d),
		sync("team-a", "inv-2", 2, cadomain.SyncComplete, 10, bucket("a", "us-east-1", 2)),
		sync("team-a", "inv-3", 3, cadomain.SyncPartial, 20, b),
		sync("team-a", "inv-4", 4, cadomain.SyncComplete, 30, bucket("a", "us-east-1", 2), b, c, d),
		findingImport("team-a", "scan-1", 2, 100,
			result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::a", csdomain.ResultFail, csdomain.SeverityHigh),
			result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::b", csdomain.ResultFail, csdomain.SeverityHigh)),
		// (A finding failing in both scans is left out: the shared
		// lifecycle fold, projections/fold, splits its run in some
		// interleavings; the findings projection shows the same.)
		findingImport("team-a", "scan-2", 3, 200,
			result("s3_bucket_public_access", "us-east-1", "arn:aws:s3:::a", csdomain.ResultPass, csdomain.SeverityHigh),
			result("s3_bucket_versioning", "us-east-1", "arn:aws:s3:::b", csdomain.ResultFail, csdomain.SeverityLow)),
	}
	projectionstest.AssertOrderIndependent(t, p, streams)
	tx := apply(t, p, slices.Concat(streams...)...)
	// b: the finding of scan-1 saw it on the day inv-2 did not: a sync
	// removes only what was last seen before it
	assert.Equal(t, []string{"discovered"}, kinds(asset(t, tx, "team-a", b)))
	assert.Equal(t, []string{"discovered", "changed"}, kinds(asset(t, tx, "team-a", a)))
	assert.Equal(t, []string{"discovered", "removed", "reappeared"}, kinds(asset(t, tx, "team-a", d)))
}

func TestAssets_TeamIsolation(t *testing.T) {
	t.Parallel()
	a := bucket("a", "us-east-1", 1)
	tx := apply(t, p, slices.Concat(
		sync("team-a", "inv-1", 1, cadomain.SyncComplete, 1, a),
		sync("team-b", "inv-2", 2, cadomain.SyncComplete, 10, bucketOf("team-b", "other", "us-east-1", 1), bucketOf("team-b", "a", "us-east-1", 1)))...)
	// team b's complete sync of the same scope removes nothing of team a's
	assert.Equal(t, cadomain.StatusPresent, asset(t, tx, "team-a", a)["status"])
	// the same bucket in team b is team b's asset, under another id
	_, found := tx.Colls[cloudassets.AssetsCollection][cloudassets.DocID("team-b", a.AssetID)]
	assert.False(t, found)
	assert.NotEqual(t, a.AssetID, bucketOf("team-b", "a", "us-east-1", 1).AssetID)
}
