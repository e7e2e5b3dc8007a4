package platform

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// APIKeysName is the name of the API keys projection; APIKeysCollection
// the collection it writes in the platform database.
const (
	APIKeysName       = "platform.api_keys"
	APIKeysCollection = "api_keys"
)

// APIKeys keeps one api_keys document per API key: its id, name, team,
// role, status and when it was issued and revoked. It never holds the
// key's salt or hash, let alone a secret: authentication reads the event
// store (platform/auth), this read model only lists keys.
//
// A document is written only by its key's own stream, in stream order;
// each event sets only its own fields and the status moves only from
// active to revoked, so any interleaving of keys converges.
type APIKeys struct{}

var _ projections.Projection = APIKeys{}

// NewAPIKeys returns the "platform.api_keys" projection.
func NewAPIKeys() APIKeys { return APIKeys{} }

// Name implements projections.Projection.
func (APIKeys) Name() string { return APIKeysName }

// Database implements projections.Projection.
func (APIKeys) Database() dbregistry.Constant { return dbregistry.PLATFORM }

// EventTypes implements projections.Projection.
func (APIKeys) EventTypes() []string {
	return []string{access.APIKeyIssued{}.EventType(), access.APIKeyRevoked{}.EventType()}
}

// Collections implements projections.Projection: a team's keys, newest first.
func (APIKeys) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{
		Name: APIKeysCollection,
		Indexes: []readmodel.Index{{Name: "by_team_issued", Fields: []readmodel.IndexField{
			{Path: "team_id"}, {Path: "issued_at", Desc: true},
		}}},
	}}
}

// APIKeyDocID is the _id of the api_keys document of a team's key.
func APIKeyDocID(team, keyID string) string { return Key(team, keyID) }

// apiKey is an api_keys document.
type apiKey struct {
	ID, TeamID, KeyID, Name, Role, Status string
	IssuedAt, RevokedAt                   time.Time
	RevokeReason, IssuedBy, RevokedBy     string
	UpdatedPosition                       int64
}

func apiKeyFrom(d readmodel.Doc) apiKey {
	return apiKey{
		ID: d.ID(), TeamID: fold.Str(d, "team_id"), KeyID: fold.Str(d, "key_id"),
		Name: fold.Str(d, "name"), Role: fold.Str(d, "role"), Status: fold.Str(d, "status"),
		IssuedAt: fold.Time(d, "issued_at"), RevokedAt: fold.Time(d, "revoked_at"),
		RevokeReason: fold.Str(d, "revoke_reason"), IssuedBy: fold.Str(d, "issued_by"), RevokedBy: fold.Str(d, "revoked_by"),
		UpdatedPosition: fold.Num(d, "updated_position"),
	}
}

func (k apiKey) doc() readmodel.Doc {
	return readmodel.Doc{
		"_id":              k.ID,
		"team_id":          k.TeamID,
		"key_id":           k.KeyID,
		"name":             k.Name,
		"role":             k.Role,
		"status":           k.Status,
		"issued_at":        fold.TimeOrNil(k.IssuedAt),
		"issued_by":        k.IssuedBy,
		"revoked_at":       fold.TimeOrNil(k.RevokedAt),
		"revoked_by":       k.RevokedBy,
		"revoke_reason":    k.RevokeReason,
		"updated_position": k.UpdatedPosition,
	}
}

// Apply implements projections.Projection. Events without a team belong
// to no team's list and are ignored.
func (APIKeys) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var keyID string
	switch e := fold.Value(ev.Data).(type) {
	case access.APIKeyIssued:
		keyID = e.KeyID
	case access.APIKeyRevoked:
		keyID = e.KeyID
	default:
		if ev.Type == (access.APIKeyIssued{}).EventType() || ev.Type == (access.APIKeyRevoked{}).EventType() {
			return fmt.Errorf("%s: event %s (%s) at position %d: unexpected data %T", APIKeysName, ev.EventID, ev.Type, ev.Position, ev.Data)
		}
		return nil
	}
	if team == "" || keyID == "" {
		return nil
	}
	d, _, err := fold.Get(ctx, tx, APIKeysCollection, APIKeyDocID(team, keyID))
	if err != nil {
		return fmt.Errorf("%s: %w", APIKeysName, err)
	}
	k := apiKeyFrom(d)
	k.ID, k.TeamID, k.KeyID = APIKeyDocID(team, keyID), team, keyID
	k.UpdatedPosition = max(k.UpdatedPosition, ev.Position)
	switch e := fold.Value(ev.Data).(type) {
	case access.APIKeyIssued:
		k.Name, k.Role, k.IssuedAt, k.IssuedBy = e.Name, string(e.Role), e.IssuedAt, ev.Metadata.Actor
		if k.Status == "" {
			k.Status = access.StatusActive
		}
	case access.APIKeyRevoked:
		k.Status, k.RevokedAt, k.RevokeReason, k.RevokedBy = access.StatusRevoked, e.RevokedAt, e.Reason, ev.Metadata.Actor
	}
	tx.Put(APIKeysCollection, k.doc())
	return nil
}
