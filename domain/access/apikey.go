package access

import (
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/domain"
)

// StreamType is the stream type of an API key's stream, StreamID its id.
const StreamType = "ApiKey"

// streamPrefix starts every ApiKey stream id.
const streamPrefix = "apikey-"

// StreamID is the id of the stream of key keyID: "apikey-<key id>".
func StreamID(keyID string) string { return streamPrefix + keyID }

// KeyIDOf is the key id in an ApiKey stream id ("" if it is not one).
func KeyIDOf(streamID string) string {
	id, ok := strings.CutPrefix(streamID, streamPrefix)
	if !ok {
		return ""
	}
	return id
}

// Limits of what a key records.
const (
	MaxNameLength   = 100 // characters
	MaxTeamIDLength = 128 // bytes
	MaxReasonLength = 500 // characters
)

// Rule codes of the *domain.RuleError values the decisions return.
const (
	CodeKeyNotIssued      = "API_KEY_NOT_ISSUED"
	CodeKeyAlreadyRevoked = "API_KEY_ALREADY_REVOKED"
)

// Key statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// IssueRequest is what issuing a key decides on. Credential is the
// generated key (NewCredential); only its id, salt and hash are recorded.
type IssueRequest struct {
	Credential Credential
	Name       string
	TeamID     string
	Role       string // viewer, analyst or admin (any case)
	IssuedAt   time.Time
}

// Issue decides a new key: ApiKeyIssued, or a *domain.ValidationError
// naming every invalid field (name, team_id, role, and key_id, salt, hash
// or issued_at for a request the caller built wrong).
func Issue(r IssueRequest) ([]Event, error) {
	var v domain.Validator
	name := strings.TrimSpace(r.Name)
	v.Check(name != "", "name", "is required")
	v.Text("name", name, MaxNameLength)
	checkTeamID(&v, r.TeamID)
	role, err := ParseRole(strings.ToLower(strings.TrimSpace(r.Role)))
	v.Check(err == nil, "role", "must be one of viewer, analyst, admin")
	c := r.Credential
	v.Check(ValidKeyID(c.KeyID), "key_id", "must be %d characters of a-z and 2-7", KeyIDLength)
	v.Check(isHex(c.Salt, SaltBytes), "salt", "must be %d hex-encoded bytes", SaltBytes)
	v.Check(isHex(c.Hash, 32), "hash", "must be a hex-encoded sha256")
	v.Check(!r.IssuedAt.IsZero(), "issued_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{APIKeyIssued{
		KeyID: c.KeyID, Name: name, TeamID: r.TeamID, Role: role,
		Salt: c.Salt, Hash: c.Hash, IssuedAt: r.IssuedAt,
	}}, nil
}

// APIKey is one API key. Build it with Rehydrate.
type APIKey struct {
	id           string
	name         string
	teamID       string
	role         Role
	salt, hash   string
	issuedAt     time.Time
	revoked      bool
	revokedAt    time.Time
	revokeReason string
}

// Revoke decides that the key stops working at at, for reason (optional).
func (k *APIKey) Revoke(reason string, at time.Time) ([]Event, error) {
	reason = strings.TrimSpace(reason)
	var v domain.Validator
	v.Text("reason", reason, MaxReasonLength)
	v.Check(!at.IsZero(), "revoked_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case k.id == "":
		return nil, domain.Rule(CodeKeyNotIssued, "the API key was never issued")
	case k.revoked:
		return nil, domain.Rule(CodeKeyAlreadyRevoked, "API key %s is already revoked", k.id)
	}
	return []Event{APIKeyRevoked{KeyID: k.id, Reason: reason, RevokedAt: at}}, nil
}

// Active reports whether the key was issued and not revoked.
func (k *APIKey) Active() bool { return k.id != "" && !k.revoked }

// Verify reports whether secret (encoded, as in the token) is this key's
// and the key is active. Constant time in the secret (VerifySecret).
func (k *APIKey) Verify(secret string) bool {
	ok := VerifySecret(k.salt, k.hash, secret)
	return ok && k.Active()
}

// Principal is who a request authenticated by this key acts as.
func (k *APIKey) Principal() Principal {
	return Principal{KeyID: k.id, Name: k.name, TeamID: k.teamID, Role: k.role}
}

// Verifier is what checking a secret needs of a key: its stored salt and
// hash (hex). A cache may keep it; it does not reveal the secret.
type Verifier struct{ Salt, Hash string }

// Verifier returns the key's stored salt and hash.
func (k *APIKey) Verifier() Verifier { return Verifier{Salt: k.salt, Hash: k.hash} }

// Verify reports whether secret matches (VerifySecret).
func (v Verifier) Verify(secret string) bool { return VerifySecret(v.Salt, v.Hash, secret) }

// Rehydrate rebuilds a key from its recorded events, oldest first.
func Rehydrate(events ...Event) *APIKey {
	k := &APIKey{}
	for _, e := range events {
		k.Apply(e)
	}
	return k
}

// Apply records the effect of one event. It never rejects: the event has
// happened. Events of other aggregates are ignored.
func (k *APIKey) Apply(e Event) {
	switch e := e.(type) {
	case APIKeyIssued:
		k.id, k.name, k.teamID, k.role = e.KeyID, e.Name, e.TeamID, e.Role
		k.salt, k.hash, k.issuedAt = e.Salt, e.Hash, e.IssuedAt
	case APIKeyRevoked:
		k.revoked, k.revokedAt, k.revokeReason = true, e.RevokedAt, e.Reason
	}
}

// APIKeyState is a read-only view of a key, for audit replay and the
// CLI. It holds nothing of the secret (no salt, no hash).
type APIKeyState struct {
	KeyID        string    `json:"key_id"`
	Name         string    `json:"name"`
	TeamID       string    `json:"team_id"`
	Role         Role      `json:"role"`
	Status       string    `json:"status"`
	IssuedAt     time.Time `json:"issued_at"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// State returns the key's current state.
func (k *APIKey) State() APIKeyState {
	status := StatusActive
	if k.revoked {
		status = StatusRevoked
	}
	return APIKeyState{
		KeyID: k.id, Name: k.name, TeamID: k.teamID, Role: k.role, Status: status,
		IssuedAt: k.issuedAt, RevokedAt: k.revokedAt, RevokeReason: k.revokeReason,
	}
}

// checkTeamID records a problem with a team id: required, at most
// MaxTeamIDLength bytes of valid UTF-8 without spaces or control characters.
func checkTeamID(v *domain.Validator, team string) {
	switch {
	case team == "":
		v.Add("team_id", "is required")
	case len(team) > MaxTeamIDLength:
		v.Add("team_id", "must be at most %d bytes", MaxTeamIDLength)
	case !utf8.ValidString(team):
		v.Add("team_id", "must be valid UTF-8")
	case strings.ContainsFunc(team, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		v.Add("team_id", "must not contain spaces or control characters")
	}
}

func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n
}
