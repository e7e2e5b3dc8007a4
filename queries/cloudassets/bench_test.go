package cloudassets_test

// The asset queries' benchmark (docs/assets.md):
//
//	go test -run '^$' -bench AssetQueries -benchtime 2000x ./queries/cloudassets/
//
// CSPM_BENCH_ASSETS (default "10000,100000") lists the inventory sizes:
// each is a team's assets (10 accounts × 6 regions of buckets, synced
// twice, 1% removed by the second complete sync, among other teams' as
// many) seeded through the real projection into SQLite.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudassets"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

func benchSizes() []int {
	spec := os.Getenv("CSPM_BENCH_ASSETS")
	if spec == "" {
		spec = "10000,100000"
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// inventoryEvents are two complete syncs of n buckets of team (the second
// without every 100th), in chunks of 500 records.
func inventoryEvents(team string, n int, pos *int64) []projections.Event {
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "sa-east-1"}
	rec := func(i int) cadomain.Record {
		arn := fmt.Sprintf("arn:aws:s3:::%s-bucket-%07d", team, i)
		acct := fmt.Sprintf("1111%08d", i%10)
		region := regions[(i/10)%len(regions)]
		key := cadomain.Key("aws", acct, region, "aws_s3_bucket", arn)
		return cadomain.Record{AssetID: cadomain.AssetID(team, cadomain.CurrentRule, key), Key: key, Type: "aws_s3_bucket", Provider: "aws",
			Account: acct, Region: region, Name: arn[13:], Tags: map[string]string{"env": "prod", "owner": fmt.Sprint("team-", i%17)},
			Hash: fmt.Sprint("h", i), Raw: []byte(fmt.Sprintf(`{"arn":%q,"versioning_enabled":true}`, arn))}
	}
	var out []projections.Event
	for s := 0; s < 2; s++ {
		id := fmt.Sprintf("inv-%s-%d", team, s)
		at := pt.T0.Add(time.Duration(s) * 24 * time.Hour)
		var data []pt.EventData
		scopes := map[cadomain.Scope]bool{}
		var chunk []cadomain.Record
		for i := 0; i < n; i++ {
			if s == 1 && i%100 == 0 {
				continue
			}
			r := rec(i)
			scopes[r.Scope()] = true
			chunk = append(chunk, r)
			if len(chunk) == 500 {
				data = append(data, cadomain.InventoryRecorded{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Records: chunk})
				chunk = nil
			}
		}
		if len(chunk) > 0 {
			data = append(data, cadomain.InventoryRecorded{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Records: chunk})
		}
		var ss []cadomain.Scope
		for sc := range scopes {
			ss = append(ss, sc)
		}
		data = append(data, cadomain.InventoryCompleted{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Sync: cadomain.SyncComplete, Scopes: ss})
		ps := make([]int64, len(data))
		for i := range ps {
			*pos++
			ps[i] = *pos
		}
		out = append(out, pt.Stream(team, ps, data...)...)
	}
	return out
}

func measure(b *testing.B, op func(i int) error) {
	b.Helper()
	var durs []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		i++
	}
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

// BenchmarkAssetQueries: the first page of a team's assets, a page deep
// in the list (by cursor), a page filtered by region and by status, and
// single assets with their history and open findings, at each size.
func BenchmarkAssetQueries(b *testing.B) {
	for _, n := range benchSizes() {
		var pos int64
		events := slices.Concat(inventoryEvents("team-a", n, &pos), inventoryEvents("team-b", n, &pos))
		e := qt.OpenEnv(b, b.TempDir())
		began := time.Now()
		e.Seed(b, events)
		b.Logf("%d assets a team, 2 teams: seeded in %v", n, time.Since(began).Round(time.Millisecond))
		svc := cloudassets.New(cloudassets.Stores{CloudAssets: e.Stores[dbregistry.CLOUD_ASSETS]})
		ctx := context.Background()
		// A cursor 90% into the list.
		deep := queries.Page{Limit: 500}
		for k := 0; k < n*9/10/500; k++ {
			l, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, deep)
			require.NoError(b, err)
			deep.Cursor = l.NextCursor
		}
		deep.Limit = 50
		first, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, queries.Page{Limit: 200})
		require.NoError(b, err)
		ids := make([]string, len(first.Items))
		for i, a := range first.Items {
			ids[i] = a.ID
		}
		label := fmt.Sprintf("assets=%d", n)
		b.Run(label+"/list_first", func(b *testing.B) {
			measure(b, func(int) error {
				_, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, queries.Page{})
				return err
			})
		})
		b.Run(label+"/list_deep", func(b *testing.B) {
			measure(b, func(int) error {
				_, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{}, deep)
				return err
			})
		})
		b.Run(label+"/list_region", func(b *testing.B) {
			measure(b, func(int) error {
				_, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{Region: "eu-west-1"}, queries.Page{})
				return err
			})
		})
		b.Run(label+"/list_removed", func(b *testing.B) {
			measure(b, func(int) error {
				l, err := svc.ListAssets(ctx, "team-a", cloudassets.AssetFilter{Status: "removed"}, queries.Page{})
				if err == nil && len(l.Items) == 0 {
					err = fmt.Errorf("no removed asset")
				}
				return err
			})
		})
		b.Run(label+"/get", func(b *testing.B) {
			measure(b, func(i int) error {
				_, err := svc.GetAsset(ctx, "team-a", ids[i%len(ids)])
				return err
			})
		})
		e.Close(b)
	}
}
