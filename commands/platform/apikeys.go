package platform

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
)

// IssueKey issues an API key of Role for TeamID, named Name.
type IssueKey struct {
	Name string `json:"name"`
	Role string `json:"role"` // viewer | analyst | admin
	// TeamID is the key's team; empty means the caller's (Meta.TeamID).
	// A key is always issued in the caller's team: a TeamID that differs
	// from Meta.TeamID is invalid. The HTTP route passes the caller's team;
	// the CLI, which acts for the operator, sets Meta.TeamID to the team
	// it was given.
	TeamID string `json:"team_id,omitempty"`
}

// RevokeKey revokes an API key of the caller's team, for good.
type RevokeKey struct {
	KeyID  string `json:"-"`
	Reason string `json:"reason,omitempty"`
}

// IssuedKey is what IssueKey returns: the command's Result (ID is the key
// id) and the key's name, role and team.
//
// Key is the plaintext key, cspm_<key id>_<secret>: it exists only in this
// value, returned once; nothing stores it (the store keeps a salted hash).
// An idempotent replay (Duplicate) therefore has no Key: the secret of the
// first issue cannot be produced again. A caller that lost it revokes the
// key and issues another.
type IssuedKey struct {
	commands.Result
	Name   string      `json:"name"`
	Role   access.Role `json:"role"`
	TeamID string      `json:"team_id"`
	Key    string      `json:"key,omitempty"`
}

// Handlers runs the API key commands. It is safe for concurrent use.
type Handlers struct {
	kit *commands.Kit
}

// New returns the API key command handlers on kit. It panics on a nil
// kit: that is a wiring mistake to catch at start-up.
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("platform.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// IssueKey issues an API key (a new ApiKey stream). The key id and secret
// are random (crypto/rand); the secret is returned in IssuedKey.Key, once.
func (h *Handlers) IssueKey(ctx context.Context, meta commands.Meta, cmd IssueKey) (IssuedKey, error) {
	if cmd.TeamID == "" {
		cmd.TeamID = meta.TeamID
	}
	if cmd.TeamID != meta.TeamID {
		var v domain.Validator
		v.Add("team_id", "must be the caller's team")
		return IssuedKey{}, v.Err()
	}
	cred, err := access.NewCredential(rand.Reader)
	if err != nil {
		return IssuedKey{}, err
	}
	c := commands.Call{Name: "IssueKey", Body: cmd, StreamID: access.StreamID(cred.KeyID), Type: commands.StreamTypeAPIKey}
	var issued access.APIKeyIssued
	// The key id is random (never the caller's choice): no field holds it.
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]access.Event, error) {
		events, err := access.Issue(access.IssueRequest{
			Credential: cred, Name: cmd.Name, TeamID: cmd.TeamID, Role: cmd.Role, IssuedAt: h.kit.Now(),
		})
		if err == nil {
			issued = events[0].(access.APIKeyIssued)
		}
		return events, err
	})
	if err != nil {
		return IssuedKey{}, err
	}
	res.ID = access.KeyIDOf(res.StreamID)
	if res.Duplicate {
		// The first issue's key, as recorded; its secret is gone.
		if issued, err = h.issuedEvent(ctx, res.StreamID); err != nil {
			return IssuedKey{}, err
		}
		return IssuedKey{Result: res, Name: issued.Name, Role: issued.Role, TeamID: issued.TeamID}, nil
	}
	return IssuedKey{Result: res, Name: issued.Name, Role: issued.Role, TeamID: issued.TeamID, Key: cred.Token()}, nil
}

// issuedEvent reads the ApiKeyIssued event that starts streamID.
func (h *Handlers) issuedEvent(ctx context.Context, streamID string) (access.APIKeyIssued, error) {
	recorded, err := h.kit.Store().ReadStream(ctx, streamID, eventstore.ReadStreamOptions{ToVersion: 1})
	if err != nil {
		return access.APIKeyIssued{}, fmt.Errorf("IssueKey: read %s: %w", streamID, err)
	}
	history, err := commands.Decode[access.Event](h.kit.Codec(), recorded)
	if err != nil {
		return access.APIKeyIssued{}, fmt.Errorf("IssueKey: %w", err)
	}
	if len(history) == 0 {
		return access.APIKeyIssued{}, fmt.Errorf("IssueKey: %s has no events", streamID)
	}
	issued, ok := history[0].(access.APIKeyIssued)
	if !ok {
		return access.APIKeyIssued{}, fmt.Errorf("IssueKey: %s starts with %s", streamID, history[0].EventType())
	}
	return issued, nil
}

// RevokeKey revokes a key of the caller's team: a key of another team, or
// none, is domain.ErrNotFound; a key already revoked is a rule error.
func (h *Handlers) RevokeKey(ctx context.Context, meta commands.Meta, cmd RevokeKey) (commands.Result, error) {
	if err := commands.RequireID("key_id", cmd.KeyID); err != nil {
		return commands.Result{}, err
	}
	c := commands.Call{Name: "RevokeKey", TargetID: cmd.KeyID, Body: cmd, StreamID: access.StreamID(cmd.KeyID), Type: commands.StreamTypeAPIKey}
	res, err := commands.Update(ctx, h.kit, meta, c, func(history []access.Event) ([]access.Event, error) {
		return access.Rehydrate(history...).Revoke(cmd.Reason, h.kit.Now())
	})
	if err != nil {
		return commands.Result{}, err
	}
	res.ID = access.KeyIDOf(res.StreamID)
	return res, nil
}
