package cloudsecurity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

type thenRule = domaintest.Then[cloudsecurity.Event]

var (
	rule = cloudsecurity.MuteRule{RuleID: "r1", Name: "dev accounts", Reason: "sandbox", Owner: "alice@example.com",
		Match: cloudsecurity.MuteMatch{Accounts: []string{"111", "111"}, Checks: []string{"s3_b", "s3_a"}}}
	created = cloudsecurity.MutingRuleCreated{RuleID: "r1", Name: "dev accounts", Reason: "sandbox", Owner: "alice@example.com",
		Match: cloudsecurity.MuteMatch{Accounts: []string{"111"}, Checks: []string{"s3_a", "s3_b"}}, CreatedAt: t0}
)

func TestCreateMutingRule(t *testing.T) {
	t.Parallel()
	with := func(change func(*cloudsecurity.MuteRule)) cloudsecurity.MuteRule {
		r := rule
		change(&r)
		return r
	}
	tests := []struct {
		name string
		when cloudsecurity.MuteRule
		then thenRule
	}{
		{name: "created, its lists sorted and de-duplicated", when: rule, then: thenRule{Events: []cloudsecurity.Event{created}}},
		{name: "a rule must match something", when: with(func(r *cloudsecurity.MuteRule) { r.Match = cloudsecurity.MuteMatch{} }),
			then: thenRule{Fields: []string{"match"}}},
		{name: "name, reason and owner are required", when: with(func(r *cloudsecurity.MuteRule) { r.Name, r.Reason, r.Owner = " ", "", "" }),
			then: thenRule{Fields: []string{"name", "reason", "owner"}}},
		{name: "an expiry in the past", when: with(func(r *cloudsecurity.MuteRule) { r.ExpiresAt = t0.Add(-time.Hour) }),
			then: thenRule{Fields: []string{"expires_at"}}},
		{name: "an empty value in a list", when: with(func(r *cloudsecurity.MuteRule) { r.Match.Regions = []string{""} }),
			then: thenRule{Fields: []string{"match.regions"}}},
		{name: "too many values", when: with(func(r *cloudsecurity.MuteRule) { r.Match.Resources = make([]string, 1001) }),
			then: thenRule{Fields: []string{"match", "match.resources"}}},
		{name: "rule id with a slash", when: with(func(r *cloudsecurity.MuteRule) { r.RuleID = "a/b" }),
			then: thenRule{Fields: []string{"rule_id"}}},
		{name: "reason over its limit", when: with(func(r *cloudsecurity.MuteRule) { r.Reason = strings.Repeat("x", 4097) }),
			then: thenRule{Fields: []string{"reason"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloudsecurity.CreateMutingRule(tc.when, t0)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestMutingRuleLifecycle(t *testing.T) {
	t.Parallel()
	expiring := created
	expiring.ExpiresAt = t0.Add(24 * time.Hour)
	removed := cloudsecurity.MutingRuleRemoved{RuleID: "r1", Reason: "done", RemovedAt: t0.Add(time.Hour)}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		when  func(*cloudsecurity.MutingRule) ([]cloudsecurity.Event, error)
		then  thenRule
	}{
		{
			name:  "change narrows the match from now",
			given: []cloudsecurity.Event{created},
			when: func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) {
				c := rule
				c.Match = cloudsecurity.MuteMatch{Checks: []string{"s3_a"}}
				return r.Change(c, t0.Add(time.Hour))
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.MutingRuleChanged{RuleID: "r1", Name: "dev accounts", Reason: "sandbox",
				Owner: "alice@example.com", Match: cloudsecurity.MuteMatch{Checks: []string{"s3_a"}}, ChangedAt: t0.Add(time.Hour)}}},
		},
		{
			name:  "remove",
			given: []cloudsecurity.Event{created},
			when: func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) {
				return r.Remove(" done ", t0.Add(time.Hour))
			},
			then: thenRule{Events: []cloudsecurity.Event{removed}},
		},
		{
			name:  "a removed rule cannot change",
			given: []cloudsecurity.Event{created, removed},
			when: func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) {
				return r.Change(rule, t0.Add(2*time.Hour))
			},
			then: thenRule{RuleCode: cloudsecurity.CodeMutingRuleEnded},
		},
		{
			name:  "expires at its expiry, dated then",
			given: []cloudsecurity.Event{expiring},
			when: func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) {
				return r.Expire(t0.Add(25 * time.Hour))
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.MutingRuleExpired{RuleID: "r1", ExpiredAt: t0.Add(24 * time.Hour)}}},
		},
		{
			name:  "not before its expiry",
			given: []cloudsecurity.Event{expiring},
			when:  func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) { return r.Expire(t0.Add(time.Hour)) },
			then:  thenRule{RuleCode: cloudsecurity.CodeMutingRuleNotDue},
		},
		{
			name: "never created",
			when: func(r *cloudsecurity.MutingRule) ([]cloudsecurity.Event, error) { return r.Remove("", t0) },
			then: thenRule{RuleCode: cloudsecurity.CodeMutingRuleUnknown},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.when(cloudsecurity.RehydrateMutingRule(tc.given...))
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestMuteMatch(t *testing.T) {
	t.Parallel()
	s := cloudsecurity.MuteSubject{FindingID: "fnd-1", Check: "c", Resource: "arn:r", Account: "111", Region: "eu-west-1",
		Tags: map[string]string{"env": "dev", "team": "x"}}
	for _, tc := range []struct {
		m    cloudsecurity.MuteMatch
		want bool
	}{
		{cloudsecurity.MuteMatch{Checks: []string{"c"}}, true},
		{cloudsecurity.MuteMatch{Checks: []string{"other", "c"}, Accounts: []string{"111"}}, true},
		{cloudsecurity.MuteMatch{Checks: []string{"c"}, Accounts: []string{"222"}}, false},
		{cloudsecurity.MuteMatch{Tags: map[string]string{"env": "dev"}}, true},
		{cloudsecurity.MuteMatch{Tags: map[string]string{"env": "dev", "team": "y"}}, false},
		{cloudsecurity.MuteMatch{FindingIDs: []string{"fnd-2"}}, false},
		{cloudsecurity.MuteMatch{Resources: []string{"arn:r"}, Regions: []string{"eu-west-1"}}, true},
	} {
		assert.Equal(t, tc.want, tc.m.Matches(s), "%+v", tc.m)
	}
}
