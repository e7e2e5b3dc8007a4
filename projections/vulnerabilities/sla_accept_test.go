package vulnerabilities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	pv "github.com/cspm-es/cspm-es/projections/vulnerabilities"
)

// A risk acceptance pauses an occurrence's clock: the due date moves by
// the time accepted (the scheduled expiry while in force, the revoke or
// fix when earlier); another team naming the id pauses nothing; the
// clock is the same in every arrival order.
func TestSLA_AcceptancePausesTheClock(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	high := occ("CVE-2024-0100", "curl", vuln.SeverityHigh) // 30 days from T0
	id := occID(t, "team-a", high)
	imp := stream("team-a", 1, scan("vim-1", pt.T0, high)...)
	accepted := rdomain.RiskAccepted{AcceptanceID: "a1", Scope: rdomain.Scope{OccurrenceIDs: []string{id}}, Reason: "r", Approver: "c",
		AcceptedAt: pt.At(5 * day), ExpiresAt: pt.At(25 * day)}

	cases := []struct {
		name     string
		streams  [][]projections.Event
		due      any
		accepted bool
		status   string
	}{
		{"in force: paused until its expiry", [][]projections.Event{imp, stream("team-a", 10, accepted)}, pt.At(50 * day), true, pv.SLAAccepted},
		{"expired: paused 20 days", [][]projections.Event{imp, stream("team-a", 10, accepted,
			rdomain.RiskAcceptanceExpired{AcceptanceID: "a1", ExpiredAt: pt.At(25 * day)})}, pt.At(50 * day), false, pv.SLAOpen},
		{"revoked on day 8: paused 3 days", [][]projections.Event{imp, stream("team-a", 10, accepted,
			rdomain.RiskAcceptanceRevoked{AcceptanceID: "a1", RevokedAt: pt.At(8 * day)})}, pt.At(33 * day), false, pv.SLAOpen},
		{"another team's acceptance of the id pauses nothing", [][]projections.Event{imp, stream("team-b", 10, accepted)}, pt.At(30 * day), false, pv.SLAOpen},
		{"fixed while accepted (day 12): paused 7 days, met", [][]projections.Event{
			append(imp, stream("team-a", 3, scan("vim-2", pt.At(12*day))...)...),
			stream("team-a", 10, accepted, rdomain.AcceptedItemFixed{AcceptanceID: "a1", ItemID: id, Module: rdomain.ModuleVulnerabilities, FixedAt: pt.At(12 * day)})},
			pt.At(37 * day), false, "resolved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var all []projections.Event
			for _, s := range c.streams {
				all = append(all, s...)
			}
			tx := pt.Apply(t, p, all...)
			d := tx.Doc(t, pv.SLAClocksCollection, id)
			assert.Equal(t, c.due, d["due_at"])
			assert.Equal(t, c.accepted, d["accepted"])
			assert.Equal(t, c.status, d["status"])
			pt.AssertOrderIndependent(t, p, c.streams)
		})
	}

	// Two overlapping acceptances count their union once.
	second := rdomain.RiskAccepted{AcceptanceID: "a2", Scope: rdomain.Scope{OccurrenceIDs: []string{id}}, Reason: "r", Approver: "c",
		AcceptedAt: pt.At(20 * day), ExpiresAt: pt.At(40 * day)}
	tx := pt.Apply(t, p, append(append(imp, stream("team-a", 10, accepted)...), stream("team-a", 20, second)...)...)
	assert.Equal(t, pt.At(65*day), tx.Doc(t, pv.SLAClocksCollection, id)["due_at"], "30 days + [5, 40) = 35 days paused")
}

// A rule's acceptance pauses every clock of the team the rule matches,
// whether the clock appears before or after it: occurrences of a listed
// CVE (not of another), imported findings of a listed check in a listed
// account (not in another account); a fix ends it for that item only; the
// clocks are the same in every arrival order.
func TestSLA_RuleAcceptancePausesMatchingClocks(t *testing.T) {
	t.Parallel()
	p := pv.NewSLA()
	high := occ("CVE-2024-0100", "curl", vuln.SeverityHigh) // 30 days from T0
	other := occ("CVE-2024-0200", "zlib", vuln.SeverityHigh)
	id, otherID := occID(t, "team-a", high), occID(t, "team-a", other)
	imp := stream("team-a", 1, scan("vim-1", pt.T0, high, other)...)
	byCVE := rdomain.RiskAccepted{AcceptanceID: "r1", Scope: rdomain.Scope{Rule: &rdomain.AcceptanceRule{Module: rdomain.ModuleVulnerabilities,
		VulnerabilityIDs: []string{"CVE-2024-0100"}}}, Reason: "r", Approver: "c", AcceptedAt: pt.At(5 * day), ExpiresAt: pt.At(25 * day)}

	cases := []struct {
		name     string
		streams  [][]projections.Event
		due      any
		accepted bool
		status   string
	}{
		{"in force: paused until its expiry", [][]projections.Event{imp, stream("team-a", 10, byCVE)}, pt.At(50 * day), true, pv.SLAAccepted},
		{"revoked on day 8: paused 3 days", [][]projections.Event{imp, stream("team-a", 10, byCVE,
			rdomain.RiskAcceptanceRevoked{AcceptanceID: "r1", RevokedAt: pt.At(8 * day)})}, pt.At(33 * day), false, pv.SLAOpen},
		{"expired: paused 20 days", [][]projections.Event{imp, stream("team-a", 10, byCVE,
			rdomain.RiskAcceptanceExpired{AcceptanceID: "r1", ExpiredAt: pt.At(25 * day)})}, pt.At(50 * day), false, pv.SLAOpen},
		{"another team's rule pauses nothing", [][]projections.Event{imp, stream("team-b", 10, byCVE)}, pt.At(30 * day), false, pv.SLAOpen},
		{"fixed while accepted (day 12): paused 7 days, met", [][]projections.Event{
			append(imp, stream("team-a", 3, scan("vim-2", pt.At(12*day), other)...)...),
			stream("team-a", 10, byCVE, rdomain.AcceptedItemFixed{AcceptanceID: "r1", ItemID: id, Module: rdomain.ModuleVulnerabilities, FixedAt: pt.At(12 * day)})},
			pt.At(37 * day), false, "resolved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var all []projections.Event
			for _, s := range c.streams {
				all = append(all, s...)
			}
			tx := pt.Apply(t, p, all...)
			d := tx.Doc(t, pv.SLAClocksCollection, id)
			assert.Equal(t, c.due, d["due_at"])
			assert.Equal(t, c.accepted, d["accepted"])
			assert.Equal(t, c.status, d["status"])
			o := tx.Doc(t, pv.SLAClocksCollection, otherID)
			assert.Equal(t, pt.At(30*day), o["due_at"], "another CVE: not accepted")
			assert.Equal(t, false, o["accepted"])
			pt.AssertOrderIndependent(t, p, c.streams)
		})
	}

	t.Run("imported findings of a check in an account", func(t *testing.T) {
		inAccount := pt.Result("s3_public", "eu-west-1", "arn:a", csdomain.ResultFail, csdomain.SeverityHigh)
		elsewhere := inAccount
		elsewhere.Account, elsewhere.Resource = "999999999999", "arn:b"
		findings := stream("team-a", 1, filterSLA(pt.ImportEvents("s1", 0, 10, inAccount, elsewhere))...)
		rule := stream("team-a", 10, rdomain.RiskAccepted{AcceptanceID: "r2", Scope: rdomain.Scope{Rule: &rdomain.AcceptanceRule{Module: rdomain.ModuleFindings,
			Checks: []string{"s3_public"}, Accounts: []string{pt.PairAccount}}}, Reason: "r", Approver: "c", AcceptedAt: pt.At(day), ExpiresAt: pt.At(60 * day)})
		streams := [][]projections.Event{findings, rule}
		tx := pt.Apply(t, p, slicesConcat(streams)...)
		var accepted, open int
		for _, d := range tx.Colls[pv.SLAClocksCollection] {
			if d["module"] != vuln.SLAModuleCloudFindings {
				continue
			}
			switch d["account"] {
			case pt.PairAccount:
				assert.Equal(t, pv.SLAAccepted, d["status"])
				assert.Equal(t, []any{"r2"}, d["acceptance_ids"])
				accepted++
			default:
				assert.Equal(t, pv.SLAOpen, d["status"], "another account: not accepted")
				open++
			}
		}
		assert.Equal(t, 1, accepted)
		assert.Equal(t, 1, open)
		pt.AssertOrderIndependent(t, p, streams)
	})
}

// filterSLA keeps the events the SLA fold reads (an import's ChecksDescribed is not).
func filterSLA(data []pt.EventData) []pt.EventData {
	types := pv.NewSLA().EventTypes()
	var out []pt.EventData
	for _, d := range data {
		for _, ty := range types {
			if d.EventType() == ty {
				out = append(out, d)
			}
		}
	}
	return out
}

func slicesConcat(streams [][]projections.Event) []projections.Event {
	var out []projections.Event
	for _, s := range streams {
		out = append(out, s...)
	}
	return out
}
