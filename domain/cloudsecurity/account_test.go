package cloudsecurity_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

var (
	accID      = cloudsecurity.AccountID("team-a", "aws", "123456789012")
	registered = cloudsecurity.CloudAccountRegistered{AccountID: accID, Provider: "aws", UID: "123456789012", Name: "prod",
		Tags: map[string]string{"env": "prod"}, RegisteredAt: t0}
)

// The id depends on the team, the provider (any case) and the uid, and on
// nothing else.
func TestAccountID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, accID, cloudsecurity.AccountID("team-a", " AWS", "123456789012 "))
	assert.NotEqual(t, accID, cloudsecurity.AccountID("team-b", "aws", "123456789012"))
	assert.NotEqual(t, accID, cloudsecurity.AccountID("team-a", "gcp", "123456789012"))
	assert.Regexp(t, `^acc-[0-9a-f]{32}$`, accID)
	assert.Equal(t, "account-"+accID, cloudsecurity.AccountStream(accID))
}

func TestRegisterAccount(t *testing.T) {
	t.Parallel()
	reg := cloudsecurity.AccountRegistration{Provider: "AWS", UID: " 123456789012", Name: "prod", Tags: map[string]string{"env": "prod"}}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		when  cloudsecurity.AccountRegistration
		then  thenRule
	}{
		{name: "registered", when: reg, then: thenRule{Events: []cloudsecurity.Event{registered}}},
		{name: "its name defaults to its uid", when: cloudsecurity.AccountRegistration{Provider: "aws", UID: "123456789012"},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.CloudAccountRegistered{AccountID: accID, Provider: "aws",
				UID: "123456789012", Name: "123456789012", RegisteredAt: t0}}}},
		{name: "provider and uid are required", when: cloudsecurity.AccountRegistration{Name: "x"},
			then: thenRule{Fields: []string{"provider", "uid"}}},
		{name: "registered once", given: []cloudsecurity.Event{registered}, when: reg,
			then: thenRule{RuleCode: cloudsecurity.CodeAccountAlreadyRegistered}},
		{name: "a retired account is not registered again",
			given: []cloudsecurity.Event{cloudsecurity.CloudAccountRetired{AccountID: accID, RetiredAt: t0}}, when: reg,
			then: thenRule{RuleCode: cloudsecurity.CodeAccountRetired}},
		{name: "renamed by a person before (seen in an import): registration still possible",
			given: []cloudsecurity.Event{cloudsecurity.CloudAccountRenamed{AccountID: accID, Name: "x", RenamedAt: t0}}, when: reg,
			then: thenRule{Events: []cloudsecurity.Event{registered}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := cloudsecurity.RehydrateAccount(accID, tt.given...)
			got, err := a.Register("team-a", tt.when, t0)
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
}

func TestAccountRenameTagRetire(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Hour)
	retired := cloudsecurity.CloudAccountRetired{AccountID: accID, Reason: "closed", RetiredAt: t0}
	tests := []struct {
		name  string
		given []cloudsecurity.Event
		seen  bool
		when  func(*cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error)
		then  thenRule
	}{
		{name: "renamed", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename(" production ", "", false, later)
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.CloudAccountRenamed{AccountID: accID, Name: "production", RenamedAt: later}}}},
		{name: "a rename to the current name changes nothing", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename("prod", "", false, later)
			},
			then: thenRule{RuleCode: cloudsecurity.CodeAccountUnchanged}},
		{name: "an account only seen in an import is renamed (its first event)", seen: true,
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename("prod", "from-report", true, later)
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.CloudAccountRenamed{AccountID: accID, Name: "prod", RenamedAt: later}}}},
		{name: "a name is required", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename(" ", "", false, later)
			},
			then: thenRule{Fields: []string{"name"}}},
		{name: "a retired account is not renamed", given: []cloudsecurity.Event{registered, retired},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename("x", "", false, later)
			},
			then: thenRule{RuleCode: cloudsecurity.CodeAccountRetired}},
		{name: "tagged: the whole set", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Tag(map[string]string{"env": "prod", "owner": "sec"}, false, later)
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.CloudAccountTagged{AccountID: accID,
				Tags: map[string]string{"env": "prod", "owner": "sec"}, TaggedAt: later}}}},
		{name: "the same tags change nothing", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Tag(map[string]string{"env": "prod"}, false, later)
			},
			then: thenRule{RuleCode: cloudsecurity.CodeAccountUnchanged}},
		{name: "a tag needs a key", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Tag(map[string]string{"": "x"}, false, later)
			},
			then: thenRule{Fields: []string{"tags"}}},
		{name: "a retired account is not tagged", given: []cloudsecurity.Event{registered, retired},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) { return a.Tag(nil, false, later) },
			then: thenRule{RuleCode: cloudsecurity.CodeAccountRetired}},
		{name: "retired", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Retire(" closed ", false, t0)
			},
			then: thenRule{Events: []cloudsecurity.Event{retired}}},
		{name: "retired once", given: []cloudsecurity.Event{registered, retired},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) { return a.Retire("", false, later) },
			then: thenRule{RuleCode: cloudsecurity.CodeAccountRetired}},
		{name: "an event is never dated before the account's last one", given: []cloudsecurity.Event{registered},
			when: func(a *cloudsecurity.CloudAccount) ([]cloudsecurity.Event, error) {
				return a.Rename("p", "", false, t0.Add(-time.Hour))
			},
			then: thenRule{Events: []cloudsecurity.Event{cloudsecurity.CloudAccountRenamed{AccountID: accID, Name: "p", RenamedAt: t0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := cloudsecurity.RehydrateAccount(accID, tt.given...)
			got, err := tt.when(a)
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
}

// An account neither registered nor seen in an import does not exist.
func TestAccountUnknown(t *testing.T) {
	t.Parallel()
	a := cloudsecurity.RehydrateAccount(accID)
	_, err := a.Rename("x", "", false, t0)
	require.True(t, errors.Is(err, domain.ErrNotFound), "%v", err)
	_, err = a.Retire("", false, t0)
	require.True(t, errors.Is(err, domain.ErrNotFound), "%v", err)
}

// An import lists each account it saw once, described by the first
// result that gives a name, organization or tag.
func TestImportScope_Accounts(t *testing.T) {
	t.Parallel()
	var s cloudsecurity.ImportScope
	r := cloudsecurity.CheckResult{Provider: "aws", Account: "1", Region: "eu-west-1", Check: "c"}
	s.Add(r)
	s.Describe(cloudsecurity.AccountSeen{Provider: "aws", UID: "1", Name: "prod", Tags: map[string]string{"env": "prod"}})
	s.Describe(cloudsecurity.AccountSeen{Provider: "aws", UID: "1", Name: "other", Organization: "o-1", Tags: map[string]string{"env": "dev", "x": "y"}})
	r.Account = "2"
	s.Add(r)
	assert.Equal(t, []cloudsecurity.AccountSeen{
		{Provider: "aws", UID: "1", Name: "prod", Organization: "o-1", Tags: map[string]string{"env": "prod", "x": "y"}},
		{Provider: "aws", UID: "2"},
	}, s.Accounts())
}
