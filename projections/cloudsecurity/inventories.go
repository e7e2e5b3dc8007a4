package cloudsecurity

import (
	"context"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Inventory imports (Steampipe, docs/assets.md) go through the same import
// route as reports: the imports collection lists them too, so that
// GET /api/v1/imports/{id} names every import. Their assets are the
// assets projection's (projections/cloudassets).

func inventoryEventTypes() []string {
	return []string{cadomain.InventoryStarted{}.EventType(), cadomain.InventoryCompleted{}.EventType(), cadomain.InventoryRejected{}.EventType()}
}

// applyInventory folds an inventory import's events into its imports
// document; false when ev is not one.
func applyInventory(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case cadomain.InventoryRejected:
		tx.Put(ImportsCollection, readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "rejected", "actor": ev.Metadata.Actor,
			"format": e.Format, "content_hash": e.ContentHash, "size": e.Size, "file_name": e.FileName,
			"reason": e.Reason, "received_at": readmodel.NormalizeTime(e.RejectedAt), "position": ev.Position})
		return true, nil
	case cadomain.InventoryStarted:
		d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
		if err != nil {
			return true, err
		}
		if !found {
			d = readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "importing"}
		}
		d["format"], d["tool"], d["content_hash"], d["size"], d["file_name"] = e.Format, e.Tool, e.ContentHash, e.Size, e.FileName
		d["received_at"], d["actor"] = readmodel.NormalizeTime(e.StartedAt), ev.Metadata.Actor
		tx.Put(ImportsCollection, d)
		return true, nil
	case cadomain.InventoryCompleted:
		d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
		if err != nil {
			return true, err
		}
		if !found {
			d = readmodel.Doc{"_id": e.ImportID, "team_id": team}
		}
		d["status"], d["identity_rule"], d["position"] = "completed", string(e.IdentityRule), ev.Position
		d["evaluated_at"], d["completed_at"] = readmodel.NormalizeTime(e.ObservedAt), readmodel.NormalizeTime(e.CompletedAt)
		d["counts"] = map[string]any{"records": int64(e.Records), "assets": int64(e.Assets), "scopes": int64(len(e.Scopes)),
			"chunks": int64(e.Chunks), "sync": e.Sync}
		tx.Put(ImportsCollection, d)
		return true, nil
	}
	return false, nil
}
