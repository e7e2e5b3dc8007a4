package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// APIKey is one API key as listed: who it is, never its secret, salt or hash.
type APIKey struct {
	ID              string    `json:"id"` // the key id (the token's cspm_<id>_ part)
	Name            string    `json:"name"`
	TeamID          string    `json:"team_id"`
	Role            string    `json:"role"`
	Status          string    `json:"status"` // active | revoked
	IssuedAt        time.Time `json:"issued_at,omitzero"`
	IssuedBy        string    `json:"issued_by,omitempty"`
	RevokedAt       time.Time `json:"revoked_at,omitzero"`
	RevokedBy       string    `json:"revoked_by,omitempty"`
	RevokeReason    string    `json:"revoke_reason,omitempty"`
	UpdatedPosition int64     `json:"updated_position"`
}

// APIKeyList is one page of a team's keys, most recently issued first.
type APIKeyList struct {
	Items      []APIKey `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// ListKeys returns one page of the team's API keys (active and revoked),
// most recently issued first, from the platform.api_keys read model.
func (s *Service) ListKeys(ctx context.Context, team string, p Page) (APIKeyList, error) {
	if team == "" {
		return APIKeyList{}, ErrNoTeam
	}
	var v domain.Validator
	p.check(&v)
	if err := v.Err(); err != nil {
		return APIKeyList{}, err
	}
	page, err := find(ctx, s.platform, apiKeysCollection, readmodel.FindOptions{
		Filter: readmodel.Eq("team_id", team),
		Sort:   []readmodel.SortField{readmodel.Desc("issued_at")},
		Limit:  p.limit(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return APIKeyList{}, fmt.Errorf("list API keys: %w", err)
	}
	out := APIKeyList{Items: make([]APIKey, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = APIKey{
			ID:              str(d, "key_id"),
			Name:            str(d, "name"),
			TeamID:          str(d, "team_id"),
			Role:            str(d, "role"),
			Status:          str(d, "status"),
			IssuedAt:        when(d, "issued_at"),
			IssuedBy:        str(d, "issued_by"),
			RevokedAt:       when(d, "revoked_at"),
			RevokedBy:       str(d, "revoked_by"),
			RevokeReason:    str(d, "revoke_reason"),
			UpdatedPosition: num(d, "updated_position"),
		}
	}
	return out, nil
}
