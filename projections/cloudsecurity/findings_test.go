package cloudsecurity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
)

var (
	raised = csdomain.FindingRaised{
		FindingID: "f1", ScanID: "s1", AccountID: "acc-1", CheckID: "s3_bucket_public", Title: "Bucket is public",
		Severity: csdomain.SeverityHigh, ResourceID: "arn:aws:s3:::b", Region: "eu-west-1", Description: "d", RaisedAt: t0,
	}
	resolved        = csdomain.FindingResolved{FindingID: "f1", Reason: "fixed", ResolvedAt: at(3 * time.Hour)}
	suppressed      = csdomain.FindingSuppressed{FindingID: "f1", Reason: "accepted risk", SuppressedAt: at(time.Hour)}
	suppressedUntil = csdomain.FindingSuppressed{FindingID: "f1", Reason: "accepted again", Until: at(48 * time.Hour), SuppressedAt: at(2 * time.Hour)}
)

// findingDoc is the document of f1 in team-a once raised, changed by
// change. Empty fields are not stored (decision 109): no suppressed flag
// until it is suppressed, no times before they happen, no reason.
func findingDoc(change func(readmodel.Doc)) readmodel.Doc {
	d := readmodel.Doc{
		"_id": "f1", "team_id": "team-a", "scan_id": "s1", "account_id": "acc-1", "check_id": "s3_bucket_public",
		"title": "Bucket is public", "severity": "high", "resource_id": "arn:aws:s3:::b",
		"region": "eu-west-1", "description": "d", "status": "open", "raised_at": t0, "updated_position": int64(1),
	}
	if change != nil {
		change(d)
	}
	if at, ok := d["resolved_at"]; ok {
		d["expires_from"] = at // a finding raised through the API expires from its resolution
	}
	return d
}

func TestFindingsContract(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewFindings()
	assert.Equal(t, "cloudsecurity.findings", p.Name())
	assert.Equal(t, dbregistry.CLOUD_SECURITY, p.Database())
	assert.ElementsMatch(t, []string{"FindingRaised", "FindingResolved", "FindingSuppressed",
		"ImportStarted", "ChecksDescribed", "ResultsRecorded", "ImportCompleted", "ImportRejected",
		"MutingRuleCreated", "MutingRuleChanged", "MutingRuleRemoved", "MutingRuleExpired",
		"InventoryStarted", "InventoryCompleted", "InventoryRejected",
		"ScanImportStarted", "ArtifactScanned", "ScanImportRejected"}, p.EventTypes())
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
		if spec.Name != cloudsecurity.FindingsCollection {
			continue
		}
		for _, ix := range spec.Indexes {
			if ix.TTL > 0 {
				assert.Equal(t, []readmodel.IndexField{{Path: "expires_from"}}, ix.Fields)
				assert.Equal(t, 180*24*time.Hour, ix.TTL)
				continue
			}
			assert.Equal(t, "team_id", ix.Fields[0].Path, ix.Name)
			assert.Equal(t, readmodel.IndexField{Path: "raised_at", Desc: true}, ix.Fields[len(ix.Fields)-1], ix.Name)
		}
	}
}

func TestFindingsLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []eventData
		then  readmodel.Doc
	}{
		{
			name:  "raised",
			given: []eventData{raised},
			then:  findingDoc(nil),
		},
		{
			name:  "resolved",
			given: []eventData{raised, resolved},
			then: findingDoc(func(d readmodel.Doc) {
				d["status"], d["resolved_at"], d["reason"], d["updated_position"] = "resolved", at(3*time.Hour), "fixed", int64(2)
			}),
		},
		{
			name:  "suppressed",
			given: []eventData{raised, suppressed},
			then: findingDoc(func(d readmodel.Doc) {
				d["status"], d["suppressed_at"], d["reason"], d["updated_position"] = "suppressed", at(time.Hour), "accepted risk", int64(2)
				d["suppressed"] = true
			}),
		},
		{
			name:  "suppressed again: the later suppression wins",
			given: []eventData{raised, suppressed, suppressedUntil},
			then: findingDoc(func(d readmodel.Doc) {
				d["status"], d["suppressed_at"], d["suppressed_until"] = "suppressed", at(2*time.Hour), at(48*time.Hour)
				d["reason"], d["updated_position"], d["suppressed"] = "accepted again", int64(3), true
			}),
		},
		{
			name:  "resolved after a suppression keeps its history, with the resolution's reason",
			given: []eventData{raised, suppressed, resolved},
			then: findingDoc(func(d readmodel.Doc) {
				d["status"], d["suppressed_at"], d["resolved_at"] = "resolved", at(time.Hour), at(3*time.Hour)
				d["reason"], d["updated_position"] = "fixed", int64(3)
			}),
		},
		{
			name:  "a status before the raise is kept when the raise merges in (defensive)",
			given: []eventData{resolved, raised},
			then: findingDoc(func(d readmodel.Doc) {
				d["status"], d["resolved_at"], d["reason"], d["updated_position"] = "resolved", at(3*time.Hour), "fixed", int64(2)
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := []int64{1, 2, 3}[:len(tc.given)]
			tx := apply(t, cloudsecurity.NewFindings(), stream("team-a", ps, tc.given...)...)
			assert.Equal(t, tc.then, tx.Doc(t, cloudsecurity.FindingsCollection, "f1"))
			assert.Len(t, tx.Colls[cloudsecurity.FindingsCollection], 1)
		})
	}
}

func TestSeverityRank(t *testing.T) {
	t.Parallel()
	for sev, want := range map[string]int64{"critical": 4, "high": 3, "medium": 2, "low": 1, "informational": 0, "bogus": -1} {
		assert.Equal(t, want, cloudsecurity.SeverityRank(sev), sev)
	}
}

func TestFindingsTeamIsolation(t *testing.T) {
	t.Parallel()
	other := raised
	other.FindingID, other.AccountID = "f2", "acc-b"
	tx := apply(t, cloudsecurity.NewFindings(), append(
		stream("team-a", positions(1, 2), raised, suppressed),
		stream("team-b", positions(3), other)...)...)
	assert.Equal(t, "team-a", tx.Doc(t, cloudsecurity.FindingsCollection, "f1")["team_id"])
	assert.Equal(t, "team-b", tx.Doc(t, cloudsecurity.FindingsCollection, "f2")["team_id"])
	assert.Equal(t, "open", tx.Doc(t, cloudsecurity.FindingsCollection, "f2")["status"])
}

func TestFindingsOrderIndependent(t *testing.T) {
	t.Parallel()
	var streams [][]projections.Event
	pos := int64(0)
	for i := range 12 {
		id := fmt.Sprintf("f%d", i)
		r := raised
		r.FindingID = id
		evs := []eventData{r}
		switch i % 4 {
		case 1:
			evs = append(evs, csdomain.FindingResolved{FindingID: id, Reason: "fixed", ResolvedAt: at(time.Hour)})
		case 2:
			evs = append(evs, csdomain.FindingSuppressed{FindingID: id, Reason: "a", SuppressedAt: at(time.Hour)},
				csdomain.FindingSuppressed{FindingID: id, Reason: "b", SuppressedAt: at(2 * time.Hour)})
		case 3:
			evs = append(evs, csdomain.FindingSuppressed{FindingID: id, Reason: "a", SuppressedAt: at(time.Hour)},
				csdomain.FindingResolved{FindingID: id, Reason: "fixed", ResolvedAt: at(2 * time.Hour)})
		}
		ps := make([]int64, len(evs))
		for j := range ps {
			pos++
			ps[j] = pos
		}
		streams = append(streams, stream([]string{"team-a", "team-b"}[i%2], ps, evs...))
	}
	assertOrderIndependent(t, cloudsecurity.NewFindings(), streams)
}

func TestFindingsEventData(t *testing.T) {
	t.Parallel()
	p, tx, ctx := cloudsecurity.NewFindings(), newMemTx(), context.Background()
	ev := stream("team-a", positions(1), raised)[0]

	other := ev
	other.Type, other.Data = "ScanRequested", struct{}{}
	require.NoError(t, p.Apply(ctx, tx, other), "events of other types are ignored")
	assert.Empty(t, tx.Colls)

	pointer := ev
	pointer.Data = &raised
	require.NoError(t, p.Apply(ctx, tx, pointer))
	assert.Equal(t, findingDoc(nil), tx.Doc(t, cloudsecurity.FindingsCollection, "f1"))

	bad := ev
	bad.Data = 42
	require.ErrorContains(t, p.Apply(ctx, tx, bad), "unexpected data int")
}
