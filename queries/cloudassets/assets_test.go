package cloudassets_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudassets"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

const acct = "111122223333"

func rec(name, region string) cadomain.Record { return recOf("team-a", name, region) }

func recOf(team, name, region string) cadomain.Record {
	key := cadomain.Key("aws", acct, region, "aws_s3_bucket", "arn:aws:s3:::"+name)
	return cadomain.Record{AssetID: cadomain.AssetID(team, cadomain.CurrentRule, key), Key: key, Type: "aws_s3_bucket", Provider: "aws",
		Account: acct, Region: region, Name: name, Tags: map[string]string{"env": "prod"}, Hash: "h", Raw: []byte(`{"name":"` + name + `"}`)}
}

// world: team-a syncs buckets a, b (us-east-1), c (eu-west-1), then a
// complete sync of us-east-1 without b; a scan finds a public and b
// unversioned. team-b syncs its own bucket a.
func world() []projections.Event {
	at := func(h int) time.Time { return pt.T0.Add(time.Duration(h) * time.Hour) }
	var out []projections.Event
	pos := int64(1)
	add := func(team string, data ...pt.EventData) {
		ps := make([]int64, len(data))
		for i := range ps {
			ps[i], pos = pos, pos+1
		}
		out = append(out, pt.Stream(team, ps, data...)...)
	}
	inv := func(id string, h int, recs ...cadomain.Record) []pt.EventData {
		scopes := []cadomain.Scope{}
		for _, r := range recs {
			if !slices.Contains(scopes, r.Scope()) {
				scopes = append(scopes, r.Scope())
			}
		}
		return []pt.EventData{
			cadomain.InventoryRecorded{ImportID: id, ObservedAt: at(h), IdentityRule: cadomain.CurrentRule, Records: recs},
			cadomain.InventoryCompleted{ImportID: id, ObservedAt: at(h), IdentityRule: cadomain.CurrentRule, Sync: cadomain.SyncComplete, Scopes: scopes},
		}
	}
	add("team-a", inv("inv-1", 1, rec("a", "us-east-1"), rec("b", "us-east-1"), rec("c", "eu-west-1"))...)
	add("team-a", inv("inv-2", 2, rec("a", "us-east-1"))...)
	r := func(check, res string, sev csdomain.Severity, result csdomain.Result) csdomain.CheckResult {
		return csdomain.CheckResult{Provider: "aws", Account: acct, Region: "us-east-1", Check: check, Resource: "arn:aws:s3:::" + res,
			ResourceType: "AwsS3Bucket", Result: result, Severity: sev}
	}
	var scan []pt.EventData
	for _, d := range pt.ImportEventsAt("scan-1", at(3), 10,
		r("s3_bucket_public_access", "a", csdomain.SeverityCritical, csdomain.ResultFail),
		r("s3_bucket_versioning", "a", csdomain.SeverityLow, csdomain.ResultFail),
		r("s3_bucket_encryption", "a", csdomain.SeverityHigh, csdomain.ResultPass),
		r("s3_bucket_versioning", "b", csdomain.SeverityLow, csdomain.ResultFail)) {
		scan = append(scan, d)
	}
	add("team-a", scan...)
	add("team-b", inv("inv-b", 1, recOf("team-b", "a", "us-east-1"))...)
	return out
}

func service(t *testing.T) *cloudassets.Service {
	e := qt.NewEnv(t, world())
	return cloudassets.New(cloudassets.Stores{CloudAssets: e.Stores[dbregistry.CLOUD_ASSETS]})
}

func ids(l cloudassets.AssetList) []string {
	var out []string
	for _, a := range l.Items {
		out = append(out, a.Name)
	}
	return out
}

func TestListAssets(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := t.Context()
	all, err := s.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "b", "c"}, ids(all))

	removed, err := s.ListAssets(ctx, "team-a", cloudassets.AssetFilter{Status: "removed"}, queries.Page{})
	require.NoError(t, err)
	// b: removed by inv-2, then seen by the scan: back again
	assert.Empty(t, ids(removed))
	eu, err := s.ListAssets(ctx, "team-a", cloudassets.AssetFilter{Region: "eu-west-1", Type: "aws_s3_bucket", AccountID: acct}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, ids(eu))

	// Cursor pages cover the list once
	var seen []string
	p := queries.Page{Limit: 1}
	for {
		l, err := s.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, p)
		require.NoError(t, err)
		seen = append(seen, ids(l)...)
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	assert.ElementsMatch(t, []string{"a", "b", "c"}, seen)

	// Bad filters name the field
	_, err = s.ListAssets(ctx, "team-a", cloudassets.AssetFilter{Status: "gone"}, queries.Page{})
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)

	// Team b sees its own bucket only
	b, err := s.ListAssets(ctx, "team-b", cloudassets.AssetFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(b))
}

func TestGetAsset(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := t.Context()
	a := rec("a", "us-east-1")
	d, err := s.GetAsset(ctx, "team-a", a.AssetID)
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:s3:::a", d.Key)
	assert.Equal(t, cadomain.StatusPresent, d.Status)
	assert.Equal(t, []string{"finding", "inventory"}, d.Sources)
	assert.Equal(t, int64(2), d.OpenFindingsTotal)
	assert.Equal(t, int64(1), d.OpenFindings.Critical)
	require.Len(t, d.OpenFindingsList, 2)
	assert.Equal(t, "s3_bucket_public_access", d.OpenFindingsList[0].CheckID, "most severe first")
	assert.Equal(t, "prod", d.Tags["env"])
	assert.JSONEq(t, `{"name":"a"}`, string(d.Raw))

	b, err := s.GetAsset(ctx, "team-a", rec("b", "us-east-1").AssetID)
	require.NoError(t, err)
	var kinds []string
	for _, c := range b.History {
		kinds = append(kinds, c.Kind)
	}
	assert.Equal(t, []string{"discovered", "removed", "reappeared"}, kinds)
	assert.Equal(t, "finding", b.History[2].Source)

	// Another team's asset, an unknown id and a malformed one are missing
	for team, id := range map[string]string{"team-b": rec("c", "eu-west-1").AssetID, "team-a": cadomain.AssetID("team-a", cadomain.CurrentRule, "nope"), "team-c": "x"} {
		_, err := s.GetAsset(ctx, team, id)
		assert.ErrorIs(t, err, queries.ErrNotFound)
	}
}
