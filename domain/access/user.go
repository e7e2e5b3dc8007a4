package access

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Users: the people of the legacy platform, imported by `cspm
// import-legacy` (docs/legacy-import.md, decision 95). This platform
// authenticates API keys, not people: a user is a record of who had an
// account there (name, email, role), kept so that owners and actors named
// in imported data can be traced, and erased on request. Nothing signs in
// as a user. A user holds personal data (name, email).

// UserStreamType is the stream type of a user ("user-<user id>").
const UserStreamType = "User"

// UserID is a user's id: "usr-" and 32 hex digits of a sha256 over the
// team and the email (lower case), so one person is one user per team.
func UserID(team, email string) string {
	h := sha256.New()
	for _, p := range []string{team, "user", strings.ToLower(strings.TrimSpace(email))} {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return "usr-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// UserStream is the stream of a user's events.
func UserStream(id string) string { return "user-" + id }

// UserImported: a user of the legacy platform was imported (the first
// event of a User stream). Role is the legacy role when it names one of
// Roles (else empty: LegacyRole keeps what it was); CreatedAt is when the
// legacy platform created the user.
type UserImported struct {
	UserID      string    `json:"user_id"`
	TeamID      string    `json:"team_id"`
	Email       string    `json:"email"`
	Name        string    `json:"name,omitempty"`
	Role        Role      `json:"role,omitempty"`
	LegacyRole  string    `json:"legacy_role,omitempty"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

func (UserImported) EventType() string { return "UserImported" }

// LegacyUser is a user as the legacy platform held it.
type LegacyUser struct {
	TeamID      string
	Email       string
	Name        string
	Role        string
	Active      bool
	CreatedAt   time.Time
	LastLoginAt time.Time
}

// ImportUser decides the import of a legacy user.
func ImportUser(u LegacyUser) ([]Event, error) {
	email := strings.ToLower(strings.TrimSpace(u.Email))
	name := strings.TrimSpace(u.Name)
	legacyRole := strings.ToLower(strings.TrimSpace(u.Role))
	var v domain.Validator
	v.Check(strings.TrimSpace(u.TeamID) != "", "team_id", "is required")
	v.Check(email != "", "email", "is required")
	if email != "" {
		a, err := mail.ParseAddress(email)
		v.Check(err == nil && a.Address == email, "email", "must be an email address")
	}
	v.Text("email", email, domain.MaxShortText)
	v.Text("name", name, domain.MaxShortText)
	v.Text("role", legacyRole, domain.MaxShortText)
	v.Check(!u.CreatedAt.IsZero(), "created_at", "is required")
	v.Check(u.LastLoginAt.IsZero() || !u.LastLoginAt.Before(u.CreatedAt), "last_login_at", "must not be before created_at")
	if err := v.Err(); err != nil {
		return nil, err
	}
	role := Role(legacyRole)
	if !role.Valid() {
		role = ""
	}
	return []Event{UserImported{
		UserID: UserID(u.TeamID, email), TeamID: u.TeamID, Email: email, Name: name,
		Role: role, LegacyRole: legacyRole, Active: u.Active, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt,
	}}, nil
}
