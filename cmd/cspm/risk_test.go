package main

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// appendTrivyScan stores one Trivy scan of image "sha256:risk" for team
// straight in the store (ScanResultsRecorded, ArtifactScanned) and returns
// the position of the append.
func appendTrivyScan(t *testing.T, a *testApp, team, id string, at time.Time, os ...vuln.Occurrence) int64 {
	t.Helper()
	img := vuln.ArtifactIdentity{Kind: vuln.ArtifactImage, Basis: vuln.BasisImageID, Key: "sha256:risk"}
	codec := eventstore.NewDomainCodec()
	req := eventstore.AppendRequest{StreamID: "vimport-" + id, StreamType: "ScanImport", Expected: eventstore.NoStream,
		Metadata: eventstore.Metadata{TeamID: team, Actor: "test", CommandID: "vimport-" + id}}
	for _, e := range []any{
		vuln.ScanResultsRecorded{ImportID: id, ArtifactID: "art-risk", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: at, Occurrences: os},
		vuln.ArtifactScanned{ImportID: id, ArtifactID: "art-risk", Identity: img, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: at, CompletedAt: at},
	} {
		ne, err := codec.Encode(e)
		require.NoError(t, err)
		req.Events = append(req.Events, ne)
	}
	res, err := a.store.Append(context.Background(), req)
	require.NoError(t, err)
	return res.LastPosition()
}

// TestRiskAcceptance_PausesFixesAndExpires: in the running app, two
// breached occurrences are accepted (by an admin): they leave the SLA
// breaches. One is fixed by a later scan while accepted: the scheduler
// closes the acceptance for it (AcceptedItemFixed). The other's
// acceptance reaches its expiry: the scheduler expires it
// (RiskAcceptanceExpired, by the system) and the occurrence is breached
// again, its due date later by the time it was accepted.
func TestRiskAcceptance_PausesFixesAndExpires(t *testing.T) {
	t.Parallel()
	var released atomic.Bool
	a := startAppWith(t, nil, fx.Decorate(func(x *acceptanceExpiry) *acceptanceExpiry {
		x.Interval = 50 * time.Millisecond
		clock := x.now
		x.now = func() time.Time {
			if released.Load() {
				return clock()
			}
			return time.Unix(0, 0)
		}
		return x
	}))
	team := a.cfg.DefaultTeam
	occ := func(cve, pkg string) vuln.Occurrence {
		return vuln.Occurrence{VulnerabilityID: cve, Package: vuln.Package{Class: vuln.ClassOS, Type: "alpine", Name: pkg, InstalledVersion: "1.0"},
			Severity: vuln.SeverityCritical}
	}
	fixedOcc, keptOcc := occ("CVE-2024-7001", "curl"), occ("CVE-2024-7002", "zlib")
	start := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Millisecond) // critical: 7 days, long breached
	pos := appendTrivyScan(t, a, team, "risk-1", start, fixedOcc, keptOcc)

	breaches := func(position int64) []vulnquery.Breach {
		var ans *answer
		eventually(t, 30*time.Second, "breaches at "+itoa(position), func() bool {
			ans = a.get(t, "/api/v1/sla/breaches?min_position="+itoa(position))
			return ans.status == http.StatusOK && !stale(ans)
		})
		var out []vulnquery.Breach
		ans.data(t, &out)
		return out
	}
	before := breaches(pos)
	require.Len(t, before, 2)
	ids := map[string]string{}
	for _, b := range before {
		ids[b.VulnerabilityID] = b.ID
	}
	fixedID, keptID := ids["CVE-2024-7001"], ids["CVE-2024-7002"]

	accept := func(item string, expires time.Time) (string, int64) {
		ans := must(t, a.post(t, "/api/v1/risk-acceptances", map[string]any{"scope": map[string]any{"occurrence_ids": []string{item}},
			"reason": "behind the WAF", "approver": "ciso", "expires_at": expires}), http.StatusCreated)
		var res api.CommandResult
		ans.data(t, &res)
		return res.ID, res.Position
	}
	fixAcc, _ := accept(fixedID, time.Now().Add(time.Hour))
	keptExpiry := time.Now().Add(time.Second)
	keptAcc, p2 := accept(keptID, keptExpiry)
	assert.Empty(t, breaches(p2), "accepted: paused, out of the breaches")

	// A later scan no longer reports the first: fixed while accepted.
	p3 := appendTrivyScan(t, a, team, "risk-2", time.Now().Truncate(time.Millisecond), keptOcc)
	var acc riskquery.Acceptance
	eventually(t, 30*time.Second, "the scheduler closes the acceptance of the fixed item", func() bool {
		must(t, a.get(t, "/api/v1/risk-acceptances/"+fixAcc+"?min_position="+itoa(p3)), http.StatusOK).data(t, &acc)
		return acc.Status == "closed"
	})
	assert.Contains(t, acc.Fixed, fixedID)

	// The second reaches its expiry.
	released.Store(true)
	eventually(t, 30*time.Second, "the scheduler expires the acceptance", func() bool {
		must(t, a.get(t, "/api/v1/risk-acceptances/"+keptAcc), http.StatusOK).data(t, &acc)
		return acc.Status == "expired"
	})
	assert.Equal(t, eventstore.NormalizeTime(keptExpiry), acc.EndedAt)
	head, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	after := breaches(head)
	i := slices.IndexFunc(after, func(b vulnquery.Breach) bool { return b.ID == keptID })
	require.GreaterOrEqual(t, i, 0, "breached again once the acceptance expired")
	assert.True(t, after[i].DueAt.After(before[slices.IndexFunc(before, func(b vulnquery.Breach) bool { return b.ID == keptID })].DueAt),
		"its due date moved by the time accepted")
	assert.False(t, slices.ContainsFunc(after, func(b vulnquery.Breach) bool { return b.ID == fixedID }), "the fixed one is resolved")

	events, err := a.store.ReadStream(context.Background(), "riskacceptance-"+keptAcc, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, "RiskAcceptanceExpired", events[1].Type)
	assert.Equal(t, acceptanceExpiryActor, events[1].Metadata.Actor)
	events, err = a.store.ReadStream(context.Background(), "riskacceptance-"+fixAcc, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, "AcceptedItemFixed", events[1].Type)
	assert.Equal(t, acceptanceFixActor, events[1].Metadata.Actor)
}
