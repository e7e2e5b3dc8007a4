package access

import "time"

// Event is an ApiKey event. EventType is its stored type name: part of the
// stored format, so it never changes, whatever the Go type is called.
type Event interface {
	EventType() string
}

// APIKeyIssued: a key was issued (the first event of an ApiKey stream).
// Salt and Hash are what is stored of the secret (hex); the secret itself
// is never recorded.
type APIKeyIssued struct {
	KeyID    string    `json:"key_id"`
	Name     string    `json:"name"`
	TeamID   string    `json:"team_id"`
	Role     Role      `json:"role"`
	Salt     string    `json:"salt"`
	Hash     string    `json:"hash"`
	IssuedAt time.Time `json:"issued_at"`
}

// APIKeyRevoked: the key stopped working, for good.
type APIKeyRevoked struct {
	KeyID     string    `json:"key_id"`
	Reason    string    `json:"reason,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
}

func (APIKeyIssued) EventType() string  { return "ApiKeyIssued" }
func (APIKeyRevoked) EventType() string { return "ApiKeyRevoked" }
