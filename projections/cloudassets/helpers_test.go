package cloudassets_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudassets"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

var (
	t0    = projectionstest.T0
	apply = projectionstest.Apply
)

const acct = "111122223333"

// bucket is an inventory row of bucket name, with a version that changes
// its content.
func bucket(name, region string, version int) cadomain.Record {
	return bucketOf("team-a", name, region, version)
}

func bucketOf(team, name, region string, version int) cadomain.Record {
	arn := "arn:aws:s3:::" + name
	key := cadomain.Key("aws", acct, region, "aws_s3_bucket", arn)
	return cadomain.Record{AssetID: cadomain.AssetID(team, cadomain.CurrentRule, key), Key: key, Type: "aws_s3_bucket", Provider: "aws",
		Account: acct, Region: region, Name: name, Tags: map[string]string{"v": fmt.Sprint(version)}, Hash: fmt.Sprintf("h-%s-%d", name, version),
		Raw: []byte(fmt.Sprintf(`{"arn":%q,"v":%d}`, arn, version))}
}

// sync is one inventory import's stream, observed at t0 + day days.
func sync(team, id string, day int, mode string, pos int64, recs ...cadomain.Record) []projections.Event {
	at := t0.Add(time.Duration(day) * 24 * time.Hour)
	scopes := map[cadomain.Scope]bool{}
	for _, r := range recs {
		scopes[r.Scope()] = true
	}
	var ss []cadomain.Scope
	for s := range scopes {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b cadomain.Scope) int {
		if a.Region < b.Region {
			return -1
		}
		return 1
	})
	data := []projectionstest.EventData{}
	for i := 0; i < len(recs); i += 2 {
		data = append(data, cadomain.InventoryRecorded{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Records: recs[i:min(i+2, len(recs))]})
	}
	data = append(data, cadomain.InventoryCompleted{ImportID: id, ObservedAt: at, IdentityRule: cadomain.CurrentRule, Sync: mode, Scopes: ss, Records: len(recs), Assets: len(recs), CompletedAt: at})
	ps := make([]int64, len(data))
	for i := range ps {
		ps[i] = pos + int64(i)
	}
	return projectionstest.Stream(team, ps, data...)
}

func asset(t *testing.T, tx *projectionstest.MemTx, team string, r cadomain.Record) map[string]any {
	t.Helper()
	return tx.Doc(t, cloudassets.AssetsCollection, cloudassets.DocID(team, r.AssetID))
}

func kinds(d map[string]any) []string {
	var out []string
	for _, h := range fold.Objs(d, "history") {
		out = append(out, fold.Str(h, "kind"))
	}
	return out
}

// findingImport is a Prowler import (scan at t0 + day days) of results on
// resources.
func findingImport(team, scan string, day int, pos int64, results ...csdomain.CheckResult) []projections.Event {
	var data []projectionstest.EventData
	for _, d := range projectionstest.ImportEventsAt(scan, t0.Add(time.Duration(day)*24*time.Hour), 2, results...) {
		if slices.Contains(cloudassets.NewAssets().EventTypes(), d.EventType()) {
			data = append(data, d)
		}
	}
	ps := make([]int64, len(data))
	for i := range ps {
		ps[i] = pos + int64(i)
	}
	return projectionstest.Stream(team, ps, data...)
}

func result(check, region, resource string, r csdomain.Result, sev csdomain.Severity) csdomain.CheckResult {
	return csdomain.CheckResult{Provider: "aws", Account: acct, Region: region, Check: check, Resource: resource,
		ResourceType: "AwsS3Bucket", ResourceName: "n", Result: r, Severity: sev}
}
