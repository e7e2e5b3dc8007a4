package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cacmd "github.com/cspm-es/cspm-es/commands/cloudassets"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/platform/parsers"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// inventoryPort is the report import's Inventories port over the assets
// commands, as cmd/cspm wires it.
type inventoryPort struct{ h *cacmd.Handlers }

type inventoryParsers struct{ parsers.Registry }

func (p inventoryParsers) ParseInventory(ctx context.Context, r io.Reader, format, table string, emit func(cadomain.Record) error) (string, error) {
	info, err := p.Registry.ParseInventory(ctx, r, format, table, emit)
	return info.Tool, err
}

func (inventoryPort) IsInventory(f string) bool { return parsers.IsInventory(f) }

func (p inventoryPort) ImportInventory(ctx context.Context, meta commands.Meta, cmd cscmd.InventoryImport) (cscmd.ImportResult, error) {
	r, err := p.h.ImportInventory(ctx, meta, cacmd.ImportInventory{Format: cmd.Format, Table: cmd.Table, Sync: cmd.Sync, FileName: cmd.FileName, Body: cmd.Body})
	out := cscmd.ImportResult{ImportID: r.ImportID, Status: r.Status, Format: r.Format, Tool: r.Tool, ContentHash: r.ContentHash,
		Size: r.Size, Reason: r.Reason, Events: r.Events, Position: r.Position, Duplicate: r.Duplicate, Table: r.Table, Sync: r.Sync}
	if c := r.Counts; c != nil {
		out.Inventory = &cscmd.InventoryCounts{Records: c.Records, Assets: c.Assets, Duplicates: c.Duplicates, Scopes: c.Scopes, Chunks: c.Chunks}
	}
	var rej *cacmd.RejectedError
	if errors.As(err, &rej) {
		out.Status, out.Reason = rej.Result.Status, rej.Result.Reason
		return out, &cscmd.RejectedError{Result: out}
	}
	return out, err
}

func steampipeReport(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "platform", "parsers", "steampipe", "testdata", name))
	require.NoError(t, err)
	return string(b)
}

// assetsContract sends an inventory through the import route and reads
// the assets (called by TestOpenAPIContract).
func assetsContract(t *testing.T, c *contract) {
	t.Helper()
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	env := steampipeReport(t, "ours_envelope_aws_s3_bucket.json")
	res := data[cscmd.ImportResult](t, c.send(t, request{Path: "/api/v1/imports?format=steampipe-json&table=aws_s3_bucket&sync=complete",
		Body: env, ContentType: "application/json"}, 202, docValid))
	require.NotNil(t, res.Inventory)
	assert.Equal(t, 3, res.Inventory.Assets)
	// The plain array, named; the envelope, detected
	c.send(t, request{Path: "/api/v1/imports?format=steampipe&table=aws_iam_role", Body: steampipeReport(t, "steampipe_aws_iam_role_test-get.json"),
		ContentType: "application/json"}, 202, docValid)
	c.send(t, request{Path: "/api/v1/imports?table=aws_s3_bucket&sync=partial", Body: steampipeReport(t, "ours_envelope_zero_rows.json"),
		ContentType: "application/json"}, 202, docValid)
	// What can go wrong
	c.send(t, request{Path: "/api/v1/imports?format=steampipe-json&sync=sometimes", Body: env, ContentType: "application/json"}, 400, docInvalid)
	c.send(t, request{Path: "/api/v1/imports?format=prowler-ocsf&table=aws_s3_bucket", Body: "[]", ContentType: "application/json"}, 400, docEither)
	rej := c.send(t, request{Path: "/api/v1/imports?format=steampipe-json", Body: `[{"region": "x"}]`, ContentType: "application/json"}, 422, docValid)
	assert.Equal(t, api.CodeReportRejected, rej.Env.Error.Code)

	pos := fmt.Sprint(res.Position)
	list := data[[]caquery.Asset](t, c.get(t, "/api/v1/assets?type=aws_s3_bucket&min_position="+pos, 200, docValid))
	require.Len(t, list, 3)
	c.get(t, "/api/v1/assets?status=present&limit=1", 200, docValid)
	c.get(t, "/api/v1/assets?status=gone", 400, docInvalid)
	one := data[caquery.AssetDetail](t, c.get(t, "/api/v1/assets/"+list[0].ID, 200, docValid))
	assert.Equal(t, list[0].ID, one.ID)
	assert.NotEmpty(t, one.History)
	c.get(t, "/api/v1/assets/ast-00000000000000000000000000000000", 404, docValid)
	c.send(t, request{Method: "GET", Path: "/api/v1/assets/" + list[0].ID, Header: teamB}, 404, docValid)
}
