package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

func TestImportUser(t *testing.T) {
	t.Parallel()
	valid := access.LegacyUser{TeamID: "team-a", Email: "Alice@Example.com ", Name: " Alice ", Role: "Admin", Active: true,
		CreatedAt: t0, LastLoginAt: t0.Add(time.Hour)}
	with := func(change func(*access.LegacyUser)) access.LegacyUser {
		u := valid
		change(&u)
		return u
	}
	imported := access.UserImported{UserID: access.UserID("team-a", "alice@example.com"), TeamID: "team-a", Email: "alice@example.com",
		Name: "Alice", Role: access.Admin, LegacyRole: "admin", Active: true, CreatedAt: t0, LastLoginAt: t0.Add(time.Hour)}
	tests := []struct {
		name string
		when access.LegacyUser
		then then
	}{
		{name: "a legacy user is recorded, email lower-cased, name trimmed", when: valid, then: then{Events: []access.Event{imported}}},
		{
			name: "a legacy role that is not one of ours is kept as legacy_role only",
			when: with(func(u *access.LegacyUser) { u.Role = "Owner" }),
			then: then{Events: []access.Event{func() access.Event { e := imported; e.Role, e.LegacyRole = "", "owner"; return e }()}},
		},
		{
			name: "never logged in",
			when: with(func(u *access.LegacyUser) { u.LastLoginAt = time.Time{} }),
			then: then{Events: []access.Event{func() access.Event { e := imported; e.LastLoginAt = time.Time{}; return e }()}},
		},
		{name: "not an email", when: with(func(u *access.LegacyUser) { u.Email = "alice" }), then: then{Fields: []string{"email"}}},
		{name: "an email with a display name", when: with(func(u *access.LegacyUser) { u.Email = "Alice <a@example.com>" }), then: then{Fields: []string{"email"}}},
		{name: "name too long", when: with(func(u *access.LegacyUser) { u.Name = strings.Repeat("n", 257) }), then: then{Fields: []string{"name"}}},
		{name: "last login before creation", when: with(func(u *access.LegacyUser) { u.LastLoginAt = t0.Add(-time.Hour) }), then: then{Fields: []string{"last_login_at"}}},
		{name: "every missing field is named", when: access.LegacyUser{}, then: then{Fields: []string{"team_id", "email", "created_at"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := access.ImportUser(tt.when)
			domaintest.AssertOutcome(t, tt.then, got, err)
		})
	}
}

// One person is one user per team: the id depends on the team and the
// email (in any case), nothing else.
func TestUserID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, access.UserID("t", "a@example.com"), access.UserID("t", " A@Example.com"))
	assert.NotEqual(t, access.UserID("t", "a@example.com"), access.UserID("u", "a@example.com"))
	assert.Regexp(t, `^usr-[0-9a-f]{32}$`, access.UserID("t", "a@example.com"))
	assert.Equal(t, "user-x", access.UserStream("x"))
}
