package main

import (
	"context"
	"errors"
	"io"

	"github.com/cspm-es/cspm-es/commands"
	cacmd "github.com/cspm-es/cspm-es/commands/cloudassets"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// The cloud assets module's wiring: the report import hands inventory
// formats (Steampipe) to commands/cloudassets through its Inventories
// port; these adapters translate between the two packages, which never
// import each other.

// inventoryParsers adapts the parser registry to the inventory import.
type inventoryParsers struct{ parsers.Registry }

func (p inventoryParsers) ParseInventory(ctx context.Context, r io.Reader, format, table string, emit func(cadomain.Record) error) (string, error) {
	info, err := p.Registry.ParseInventory(ctx, r, format, table, emit)
	return info.Tool, err
}

// newAssetCommands are the cloud assets commands.
func newAssetCommands(kit *commands.Kit, store eventstore.Store) *cacmd.Handlers {
	return cacmd.New(kit, inventoryParsers{}, store)
}

// newAssetQueries reads cspm_cloud_assets.
func newAssetQueries(rm ReadModels) *caquery.Service {
	return caquery.New(caquery.Stores{CloudAssets: rm.Stores[dbregistry.CLOUD_ASSETS]})
}

// inventories implements cscmd.Inventories over the assets commands.
type inventories struct{ h *cacmd.Handlers }

func (inventories) IsInventory(format string) bool { return parsers.IsInventory(format) }

func (i inventories) ImportInventory(ctx context.Context, meta commands.Meta, cmd cscmd.InventoryImport) (cscmd.ImportResult, error) {
	res, err := i.h.ImportInventory(ctx, meta, cacmd.ImportInventory{Format: cmd.Format, Table: cmd.Table, Sync: cmd.Sync, FileName: cmd.FileName, Body: cmd.Body})
	out := inventoryResult(res)
	var rej *cacmd.RejectedError
	if errors.As(err, &rej) {
		return out, &cscmd.RejectedError{Result: inventoryResult(rej.Result)}
	}
	return out, err
}

func inventoryResult(r cacmd.Result) cscmd.ImportResult {
	out := cscmd.ImportResult{ImportID: r.ImportID, Status: r.Status, Format: r.Format, Tool: r.Tool, ContentHash: r.ContentHash,
		Size: r.Size, Reason: r.Reason, Events: r.Events, Position: r.Position, Duplicate: r.Duplicate, Table: r.Table, Sync: r.Sync}
	if c := r.Counts; c != nil {
		out.Inventory = &cscmd.InventoryCounts{Records: c.Records, Assets: c.Assets, Duplicates: c.Duplicates, Scopes: c.Scopes, Chunks: c.Chunks}
	}
	return out
}
