package cloudassets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudassets"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers"
)

type parsersPort struct{ parsers.Registry }

func (p parsersPort) ParseInventory(ctx context.Context, r io.Reader, format, table string, emit func(cadomain.Record) error) (string, error) {
	info, err := p.Registry.ParseInventory(ctx, r, format, table, emit)
	return info.Tool, err
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "steampipe", "testdata", name))
	require.NoError(t, err)
	return b
}

func rows(n int, from int) []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"arn":"arn:aws:s3:::b-%d","account_id":"111122223333","region":"us-east-1","name":"b-%d","tags":{"n":"%d"}}`, from+i, from+i, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

func importInv(t *testing.T, h *cloudassets.Handlers, body []byte, table, sync string) (cloudassets.Result, error) {
	t.Helper()
	return h.ImportInventory(t.Context(), commandstest.TeamA, cloudassets.ImportInventory{Format: "steampipe-json", Table: table, Sync: sync, Body: bytes.NewReader(body)})
}

func TestImportInventory(t *testing.T) {
	t.Parallel()
	// Given an envelope of three buckets, imported as a complete sync
	d := commandstest.New(t)
	h := cloudassets.New(d.Kit, parsersPort{}, d.Store)
	res, err := importInv(t, h, sample(t, "ours_envelope_aws_s3_bucket.json"), "aws_s3_bucket", "complete")
	require.NoError(t, err)
	// Then its events: started, one chunk of three records, completed
	assert.Equal(t, cloudassets.StatusCompleted, res.Status)
	assert.Equal(t, 3, res.Counts.Records)
	assert.Equal(t, 3, res.Counts.Assets)
	assert.Equal(t, 2, res.Counts.Scopes, "us-east-1 and eu-west-1")
	evs := d.Decoded(t, cloudassets.StreamID(res.ImportID))
	require.Len(t, evs, 3)
	rec := evs[1].(cadomain.InventoryRecorded)
	require.Len(t, rec.Records, 3)
	assert.Equal(t, "arn:aws:s3:::acme-logs", rec.Records[0].Key)
	done := evs[2].(cadomain.InventoryCompleted)
	assert.Equal(t, cadomain.SyncComplete, done.Sync)
	assert.Len(t, done.Scopes, 2)
	assert.Equal(t, d.Head(t), res.Position)

	// When the same report is imported again, nothing is appended
	head := d.Head(t)
	again, err := importInv(t, h, sample(t, "ours_envelope_aws_s3_bucket.json"), "aws_s3_bucket", "complete")
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, res.ImportID, again.ImportID)
	assert.Equal(t, head, d.Head(t))
}

func TestImportInventory_ChunksAndZeroRows(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	h := cloudassets.New(d.Kit, parsersPort{}, d.Store)
	res, err := importInv(t, h, rows(3000, 0), "aws_s3_bucket", "")
	require.NoError(t, err)
	assert.Equal(t, cadomain.SyncPartial, res.Sync, "partial unless said")
	assert.Greater(t, res.Counts.Chunks, 1)
	n := 0
	for _, e := range d.Decoded(t, cloudassets.StreamID(res.ImportID)) {
		if r, ok := e.(cadomain.InventoryRecorded); ok {
			n += len(r.Records)
		}
	}
	assert.Equal(t, 3000, n)

	// A result of zero rows is an import of no scope
	zero, err := importInv(t, h, sample(t, "ours_envelope_zero_rows.json"), "aws_s3_bucket", "complete")
	require.NoError(t, err)
	evs := d.Decoded(t, cloudassets.StreamID(zero.ImportID))
	require.Len(t, evs, 2)
	assert.Empty(t, evs[1].(cadomain.InventoryCompleted).Scopes)
}

func TestImportInventory_RejectedWhole(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	h := cloudassets.New(d.Kit, parsersPort{}, d.Store)
	res, err := importInv(t, h, []byte(`[{"arn":"arn:aws:s3:::a"},{"region":"x"}]`), "aws_s3_bucket", "complete")
	var rej *cloudassets.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Contains(t, rej.Result.Reason, "row 1")
	evs := d.Decoded(t, cloudassets.StreamID(res.ImportID))
	require.Len(t, evs, 1)
	require.IsType(t, cadomain.InventoryRejected{}, evs[0])

	// Bad parameters append nothing
	head := d.Head(t)
	_, err = importInv(t, h, rows(1, 0), "aws s3", "full")
	commandstest.RequireFields(t, err, "sync", "table")
	assert.Equal(t, head, d.Head(t))
}

// The report import of commands/cloudsecurity hands inventory formats over
// through its Inventories port (here the same adapter cmd/cspm wires).
type inventoriesPort struct{ h *cloudassets.Handlers }

func (inventoriesPort) IsInventory(f string) bool { return parsers.IsInventory(f) }

func (p inventoriesPort) ImportInventory(ctx context.Context, meta commands.Meta, cmd cloudsecurity.InventoryImport) (cloudsecurity.ImportResult, error) {
	res, err := p.h.ImportInventory(ctx, meta, cloudassets.ImportInventory{Format: cmd.Format, Table: cmd.Table, Sync: cmd.Sync, Body: cmd.Body})
	out := cloudsecurity.ImportResult{ImportID: res.ImportID, Status: res.Status, Format: res.Format, Table: res.Table, Sync: res.Sync, Position: res.Position}
	var rej *cloudassets.RejectedError
	if errors.As(err, &rej) {
		return out, &cloudsecurity.RejectedError{Result: out}
	}
	return out, err
}

type reportParsers struct{ parsers.Registry }

func (p reportParsers) Parse(ctx context.Context, r io.Reader, format string, emit func(csdomain.Observation) error) (cloudsecurity.ReportInfo, error) {
	info, err := p.Registry.Parse(ctx, r, format, emit)
	return cloudsecurity.ReportInfo{Format: info.Format, Tool: info.Tool}, err
}

func TestTheReportImportHandsInventoriesOver(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	assets := cloudassets.New(d.Kit, parsersPort{}, d.Store)
	h := cloudsecurity.New(d.Kit).WithImports(reportParsers{}, d.Store).WithInventories(inventoriesPort{h: assets})

	// Named format
	res, err := h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{Format: "steampipe-json", Table: "aws_s3_bucket", Sync: "complete", Body: bytes.NewReader(rows(2, 0))})
	require.NoError(t, err)
	assert.Equal(t, "aws_s3_bucket", res.Table)
	assert.Len(t, d.Decoded(t, cloudassets.StreamID(res.ImportID)), 3)

	// The envelope is detected
	res, err = h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{Table: "aws_s3_bucket", Body: bytes.NewReader(sample(t, "ours_envelope_aws_s3_bucket.json"))})
	require.NoError(t, err)
	assert.Equal(t, "steampipe-json", res.Format)

	// A table on a findings report is refused, nothing appended
	head := d.Head(t)
	_, err = h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{Format: "prowler-ocsf", Table: "aws_s3_bucket", Body: strings.NewReader("[]")})
	commandstest.RequireFields(t, err, "table")
	assert.Equal(t, head, d.Head(t))
}
