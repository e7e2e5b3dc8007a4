package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// cred is a fixed credential: the generator over a counting reader.
var cred = mustCredential()

func mustCredential() access.Credential {
	c, err := access.NewCredential(&counter{})
	if err != nil {
		panic(err)
	}
	return c
}

// counter is a deterministic "random" reader: 0, 1, 2, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

var (
	issued = access.APIKeyIssued{
		KeyID: cred.KeyID, Name: "ci pipeline", TeamID: "team-a", Role: access.Analyst,
		Salt: cred.Salt, Hash: cred.Hash, IssuedAt: t0,
	}
	revoked = access.APIKeyRevoked{KeyID: cred.KeyID, Reason: "leaked", RevokedAt: t0.Add(time.Hour)}
)

// then is the expected outcome of a decision (domaintest.Then).
type then = domaintest.Then[access.Event]

func TestIssue(t *testing.T) {
	t.Parallel()
	valid := access.IssueRequest{Credential: cred, Name: "ci pipeline", TeamID: "team-a", Role: "analyst", IssuedAt: t0}
	with := func(change func(*access.IssueRequest)) access.IssueRequest {
		r := valid
		change(&r)
		return r
	}
	tests := []struct {
		name string
		when access.IssueRequest
		then then
	}{
		{
			name: "valid request is recorded",
			when: valid,
			then: then{Events: []access.Event{issued}},
		},
		{
			name: "role is read in any case, name is trimmed",
			when: with(func(r *access.IssueRequest) { r.Role, r.Name = " Analyst ", "  ci pipeline \t" }),
			then: then{Events: []access.Event{issued}},
		},
		{
			name: "name of exactly the maximum length",
			when: with(func(r *access.IssueRequest) { r.Name = strings.Repeat("é", access.MaxNameLength) }),
			then: then{Events: []access.Event{func() access.Event {
				e := issued
				e.Name = strings.Repeat("é", access.MaxNameLength)
				return e
			}()}},
		},
		{
			name: "name too long",
			when: with(func(r *access.IssueRequest) { r.Name = strings.Repeat("x", access.MaxNameLength+1) }),
			then: then{Fields: []string{"name"}},
		},
		{
			name: "name with a control character",
			when: with(func(r *access.IssueRequest) { r.Name = "a\nb" }),
			then: then{Fields: []string{"name"}},
		},
		{
			name: "unknown role",
			when: with(func(r *access.IssueRequest) { r.Role = "root" }),
			then: then{Fields: []string{"role"}},
		},
		{
			name: "team id with a space",
			when: with(func(r *access.IssueRequest) { r.TeamID = "team a" }),
			then: then{Fields: []string{"team_id"}},
		},
		{
			name: "team id too long",
			when: with(func(r *access.IssueRequest) { r.TeamID = strings.Repeat("t", access.MaxTeamIDLength+1) }),
			then: then{Fields: []string{"team_id"}},
		},
		{
			name: "every missing field is named",
			when: access.IssueRequest{Name: "   "},
			then: then{Fields: []string{"name", "team_id", "role", "key_id", "salt", "hash", "issued_at"}},
		},
		{
			name: "a credential that was not generated",
			when: with(func(r *access.IssueRequest) {
				r.Credential = access.Credential{KeyID: "ABC", Salt: "zz", Hash: cred.Salt}
			}),
			then: then{Fields: []string{"key_id", "salt", "hash"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := access.Issue(tc.when)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	revoke := func(reason string, d time.Duration) func(*access.APIKey) ([]access.Event, error) {
		return func(k *access.APIKey) ([]access.Event, error) { return k.Revoke(reason, t0.Add(d)) }
	}
	tests := []struct {
		name  string
		given []access.Event
		when  func(*access.APIKey) ([]access.Event, error)
		then  then
	}{
		{
			name:  "an active key is revoked",
			given: []access.Event{issued},
			when:  revoke(" leaked ", time.Hour),
			then:  then{Events: []access.Event{revoked}},
		},
		{
			name:  "the reason is optional",
			given: []access.Event{issued},
			when:  revoke("", time.Hour),
			then:  then{Events: []access.Event{access.APIKeyRevoked{KeyID: cred.KeyID, RevokedAt: t0.Add(time.Hour)}}},
		},
		{
			name:  "cannot revoke twice",
			given: []access.Event{issued, revoked},
			when:  revoke("again", 2*time.Hour),
			then:  then{RuleCode: access.CodeKeyAlreadyRevoked},
		},
		{
			name: "cannot revoke a key never issued",
			when: revoke("", time.Hour),
			then: then{RuleCode: access.CodeKeyNotIssued},
		},
		{
			name:  "reason too long",
			given: []access.Event{issued},
			when:  revoke(strings.Repeat("r", access.MaxReasonLength+1), time.Hour),
			then:  then{Fields: []string{"reason"}},
		},
		{
			name:  "time is required",
			given: []access.Event{issued},
			when: func(k *access.APIKey) ([]access.Event, error) {
				return k.Revoke("", time.Time{})
			},
			then: then{Fields: []string{"revoked_at"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.when(access.Rehydrate(tc.given...))
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestAPIKeyVerifyAndState(t *testing.T) {
	t.Parallel()
	k := access.Rehydrate(issued)
	assert.True(t, k.Active())
	assert.True(t, k.Verify(cred.Secret))
	assert.True(t, k.Verifier().Verify(cred.Secret))
	other := mustOtherCredential(t)
	assert.False(t, k.Verify(other.Secret), "another key's secret")
	assert.False(t, k.Verify(""), "no secret")
	assert.Equal(t, access.Principal{KeyID: cred.KeyID, Name: "ci pipeline", TeamID: "team-a", Role: access.Analyst}, k.Principal())
	assert.Equal(t, access.APIKeyState{
		KeyID: cred.KeyID, Name: "ci pipeline", TeamID: "team-a", Role: access.Analyst, Status: "active", IssuedAt: t0,
	}, k.State())

	k = access.Rehydrate(issued, revoked)
	assert.False(t, k.Active())
	assert.False(t, k.Verify(cred.Secret), "a revoked key never verifies")
	assert.Equal(t, access.APIKeyState{
		KeyID: cred.KeyID, Name: "ci pipeline", TeamID: "team-a", Role: access.Analyst, Status: "revoked",
		IssuedAt: t0, RevokedAt: t0.Add(time.Hour), RevokeReason: "leaked",
	}, k.State())

	assert.False(t, access.Rehydrate().Active())
	assert.False(t, access.Rehydrate().Verify(cred.Secret))
}

func TestStreamID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "apikey-"+cred.KeyID, access.StreamID(cred.KeyID))
	assert.Equal(t, cred.KeyID, access.KeyIDOf(access.StreamID(cred.KeyID)))
	assert.Empty(t, access.KeyIDOf("scan-1"))
}

func mustOtherCredential(t *testing.T) access.Credential {
	t.Helper()
	c, err := access.NewCredential(&counter{n: 100})
	require.NoError(t, err)
	return c
}
