// Package access holds who may do what: API keys and the roles they carry.
package access

import (
	"errors"
	"fmt"
)

// Role is what an API key may do. Each role includes the ones below it:
// viewer < analyst < admin.
type Role string

// The roles.
const (
	// Viewer runs queries.
	Viewer Role = "viewer"
	// Analyst runs queries, ingests scans and findings and triages findings.
	Analyst Role = "analyst"
	// Admin does everything: keys, projection rebuilds, audit.
	Admin Role = "admin"
)

// Roles lists the roles from least to most powerful.
func Roles() []Role { return []Role{Viewer, Analyst, Admin} }

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Analyst:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a key of role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("role %q: want viewer, analyst or admin", s)
}

// ErrUnauthenticated: a request carries no API key, or one that is
// malformed, unknown or revoked. Which of these is never told apart to the
// caller.
var ErrUnauthenticated = errors.New("unauthenticated")

// Principal is who a request acts as: the API key that authenticated it.
// Its team is the only team the request can read or change.
type Principal struct {
	KeyID  string
	Name   string
	TeamID string
	Role   Role
}

// Actor is how events and the audit log name the principal.
func (p Principal) Actor() string { return "key:" + p.KeyID }
