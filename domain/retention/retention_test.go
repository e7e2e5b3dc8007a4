package retention_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain/domaintest"
	"github.com/cspm-es/cspm-es/domain/retention"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type then = domaintest.Then[retention.RetentionPolicySet]

func TestSet(t *testing.T) {
	t.Parallel()
	current := &retention.RetentionPolicySet{Module: "scan-results", Days: 365, SetAt: t0.Add(-time.Hour)}
	valid := retention.SetRequest{Module: "scan-results", Days: 90, Reason: " GDPR ", SetAt: t0}
	with := func(change func(*retention.SetRequest)) retention.SetRequest {
		r := valid
		change(&r)
		return r
	}
	tests := []struct {
		name  string
		given *retention.RetentionPolicySet
		when  retention.SetRequest
		then  then
	}{
		{name: "first policy of a module is recorded, reason trimmed", when: valid,
			then: then{Events: []retention.RetentionPolicySet{{Module: "scan-results", Days: 90, Reason: "GDPR", SetAt: t0}}}},
		{name: "a change of the policy in force is recorded", given: current, when: valid,
			then: then{Events: []retention.RetentionPolicySet{{Module: "scan-results", Days: 90, Reason: "GDPR", SetAt: t0}}}},
		{name: "the policy in force repeated appends nothing", given: current, when: with(func(r *retention.SetRequest) { r.Days = 365 }),
			then: then{}},
		{name: "0 days keeps the module live", when: with(func(r *retention.SetRequest) { r.Days = 0 }),
			then: then{Events: []retention.RetentionPolicySet{{Module: "scan-results", Days: 0, Reason: "GDPR", SetAt: t0}}}},
		{name: "the shortest and the longest", when: with(func(r *retention.SetRequest) { r.Days, r.Module = retention.MaxDays, "webhook-deliveries" }),
			then: then{Events: []retention.RetentionPolicySet{{Module: "webhook-deliveries", Days: retention.MaxDays, Reason: "GDPR", SetAt: t0}}}},
		{name: "under a month", when: with(func(r *retention.SetRequest) { r.Days = retention.MinDays - 1 }), then: then{Fields: []string{"days"}}},
		{name: "over ten years", when: with(func(r *retention.SetRequest) { r.Days = retention.MaxDays + 1 }), then: then{Fields: []string{"days"}}},
		{name: "negative", when: with(func(r *retention.SetRequest) { r.Days = -1 }), then: then{Fields: []string{"days"}}},
		{name: "unknown module", when: with(func(r *retention.SetRequest) { r.Module = "keys" }), then: then{Fields: []string{"module"}}},
		{name: "reason too long", when: with(func(r *retention.SetRequest) { r.Reason = strings.Repeat("x", retention.MaxReasonLength+1) }),
			then: then{Fields: []string{"reason"}}},
		{name: "every invalid field named", when: retention.SetRequest{Module: "", Days: 7}, then: then{Fields: []string{"module", "days", "set_at"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := retention.Set(tc.given, tc.when)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestCutoff(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	p := func(days int) retention.Policy { return retention.Policy{Module: "m", Days: days} }
	tests := []struct {
		name   string
		given  []retention.Policy
		cutoff time.Time
		ok     bool
	}{
		{name: "no policy: the default", given: nil, cutoff: t0.Add(-180 * day), ok: true},
		{name: "the longest policy governs the prefix", given: []retention.Policy{p(90), p(365), p(180)}, cutoff: t0.Add(-365 * day), ok: true},
		{name: "a shorter policy alone", given: []retention.Policy{p(30)}, cutoff: t0.Add(-30 * day), ok: true},
		{name: "0 days anywhere keeps everything live", given: []retention.Policy{p(90), p(0)}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cutoff, ok := retention.Cutoff(tc.given, t0)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.cutoff, cutoff)
		})
	}
}

// Scan results never include the policies, keys or configuration.
func TestModules(t *testing.T) {
	t.Parallel()
	for _, m := range retention.Modules {
		for _, st := range m.StreamTypes {
			assert.NotContains(t, []string{retention.StreamType, "ApiKey", "CloudAccount", "MutingRule", "SLAPolicy", "RiskMatrix", "Integration"}, st, m.Name)
		}
	}
	m, ok := retention.ModuleNamed("scan-results")
	assert.True(t, ok)
	assert.Contains(t, m.StreamTypes, "ScanRun")
}
