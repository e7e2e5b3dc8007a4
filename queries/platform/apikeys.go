package platform

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
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
func (s *Service) ListKeys(ctx context.Context, team string, p queries.Page) (APIKeyList, error) {
	if team == "" {
		return APIKeyList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	p.Check(&v)
	if err := v.Err(); err != nil {
		return APIKeyList{}, err
	}
	page, err := queries.Find(ctx, s.platform, apiKeysCollection, readmodel.FindOptions{
		Filter: readmodel.Eq("team_id", team),
		Sort:   []readmodel.SortField{readmodel.Desc("issued_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return APIKeyList{}, fmt.Errorf("list API keys: %w", err)
	}
	out := APIKeyList{Items: make([]APIKey, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = APIKey{
			ID:              queries.Str(d, "key_id"),
			Name:            queries.Str(d, "name"),
			TeamID:          queries.Str(d, "team_id"),
			Role:            queries.Str(d, "role"),
			Status:          queries.Str(d, "status"),
			IssuedAt:        queries.When(d, "issued_at"),
			IssuedBy:        queries.Str(d, "issued_by"),
			RevokedAt:       queries.When(d, "revoked_at"),
			RevokedBy:       queries.Str(d, "revoked_by"),
			RevokeReason:    queries.Str(d, "revoke_reason"),
			UpdatedPosition: queries.Num(d, "updated_position"),
		}
	}
	return out, nil
}
