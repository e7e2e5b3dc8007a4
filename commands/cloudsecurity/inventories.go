package cloudsecurity

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
)

// Inventories imports asset inventories: reports of a format that lists
// assets rather than findings (Steampipe's JSON). The report import hands
// them over whole, through the same route and CLI; commands/cloudassets
// implements it (wired in cmd/cspm), and this package never imports it.
type Inventories interface {
	// IsInventory reports an inventory format name.
	IsInventory(format string) bool
	// ImportInventory imports one inventory; a rejection is a
	// *RejectedError carrying the recorded result.
	ImportInventory(ctx context.Context, meta commands.Meta, cmd InventoryImport) (ImportResult, error)
}

// InventoryImport is an inventory report handed to Inventories.
type InventoryImport struct {
	Format   string
	Table    string // the tool's table ("aws_s3_bucket"); "" when the caller did not say
	Sync     string // complete or partial; "" is partial
	FileName string
	Body     io.Reader
}

// InventoryCounts are what an inventory import held (ImportResult.Inventory).
type InventoryCounts struct {
	Records    int `json:"records"`
	Assets     int `json:"assets"`
	Duplicates int `json:"duplicates"`
	Scopes     int `json:"scopes"`
	Chunks     int `json:"chunks"`
}

// WithInventories lets the report import take inventory formats.
func (h *Handlers) WithInventories(inv Inventories) *Handlers {
	h.inventories = inv
	return h
}

// inventory hands cmd to the inventories when its format (named, or the
// envelope detected from its first bytes) is an inventory format; handled
// is false otherwise, with cmd's body still whole.
func (h *Handlers) inventory(ctx context.Context, meta commands.Meta, cmd *ImportReport, format string) (ImportResult, bool, error) {
	if h.inventories == nil {
		return ImportResult{}, false, h.notInventory(cmd)
	}
	if format == "" && cmd.Body != nil {
		br := bufio.NewReaderSize(cmd.Body, detectHeadBytes)
		cmd.Body = br
		head, err := br.Peek(detectHeadBytes)
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
			if f, derr := h.reports.Detect(head); derr == nil && h.inventories.IsInventory(f) {
				format = f
			}
		}
	}
	if !h.inventories.IsInventory(format) {
		return ImportResult{}, false, h.notInventory(cmd)
	}
	if cmd.ScanID != "" {
		var v domain.Validator
		v.Add("scan_id", "an inventory completes no scan")
		return ImportResult{}, true, v.Err()
	}
	res, err := h.inventories.ImportInventory(ctx, meta, InventoryImport{Format: format, Table: cmd.Table, Sync: cmd.Sync, FileName: cmd.FileName, Body: cmd.Body})
	return res, true, err
}

// notInventory refuses an inventory's parameters on a findings report.
func (h *Handlers) notInventory(cmd *ImportReport) error {
	var v domain.Validator
	if cmd.Table != "" {
		v.Add("table", "only an inventory format takes a table: name it (format=steampipe-json) when the report is Steampipe's plain array of rows, which is not detected")
	}
	if cmd.Sync != "" {
		v.Add("sync", "only an inventory format (steampipe-json) takes a sync mode")
	}
	return v.Err()
}
