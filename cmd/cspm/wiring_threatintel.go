package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

// Threat intelligence in `cspm serve` (api role): the KEV catalogue
// imported through the report import (POST /api/v1/imports?format=kev-json
// |kev-csv), the indicator commands.

var threatIntelModule = fx.Module("threatintel",
	fx.Provide(newThreatIntelCommands, newThreatIntelQueries),
	fx.Invoke(wireKEVImports),
)

// newThreatIntelCommands are the threat-intelligence commands, reading
// KEV feeds with the parser registry.
func newThreatIntelCommands(kit *commands.Kit) *ticmd.Handlers {
	return ticmd.New(kit).WithFeeds(parsers.Registry{})
}

// newThreatIntelQueries reads cspm_threat_intelligence.
func newThreatIntelQueries(rm ReadModels) *tiquery.Service {
	return tiquery.New(rm.Stores[dbregistry.THREAT_INTELLIGENCE])
}

// wireKEVImports hands the KEV formats of the report import to the
// threat-intelligence module.
func wireKEVImports(h *cscmd.Handlers, ti *ticmd.Handlers, log *slog.Logger) {
	h.WithFormatImporter(parsers.KEVFormats, logKEVImports(kevImporter(ti), log.With("component", "threatintel")))
}

// logKEVImports logs what each KEV import did (the catalogue is everyone's:
// who changed it, and how, is worth a line).
func logKEVImports(next cscmd.FormatImporter, log *slog.Logger) cscmd.FormatImporter {
	return func(ctx context.Context, meta commands.Meta, format string, cmd cscmd.ImportReport) (cscmd.ImportResult, error) {
		res, err := next(ctx, meta, format, cmd)
		f, _ := res.Feed.(ticmd.KEVImportResult)
		switch {
		case err != nil:
			log.Warn("KEV feed refused", "team_id", meta.TeamID, "actor", meta.Actor, "format", format, "import_id", res.ImportID, "error", err)
		default:
			log.Info("KEV feed imported", "team_id", meta.TeamID, "actor", meta.Actor, "status", f.Status, "catalogue_version", f.CatalogueVersion,
				"entries", f.Entries, "published", f.Published, "updated", f.Updated, "withdrawn", f.Withdrawn, "position", f.Position)
		}
		return res, err
	}
}

// kevImporter adapts ticmd.ImportKEV to the report import's port.
func kevImporter(ti *ticmd.Handlers) cscmd.FormatImporter {
	return func(ctx context.Context, meta commands.Meta, format string, cmd cscmd.ImportReport) (cscmd.ImportResult, error) {
		res, err := ti.ImportKEV(ctx, meta, ticmd.ImportKEV{Format: format, FileName: cmd.FileName, Force: cmd.Force, Body: cmd.Body})
		out := cscmd.ImportResult{ImportID: res.ImportID, Status: res.Status, Format: res.Format, Tool: "cisa-kev",
			ToolVersion: res.CatalogueVersion, ContentHash: res.FileHash, Size: res.Size, Reason: res.Reason,
			Events: res.Events, Position: res.Position, Duplicate: res.Duplicate}
		if res.ImportID != "" {
			out.Feed = res
		}
		var rej *ticmd.KEVRejectedError
		if errors.As(err, &rej) {
			return out, &cscmd.RejectedError{Result: out}
		}
		return out, err
	}
}

// printFeedImport prints what a KEV feed's import did (`cspm import
// --format kev-json`).
func printFeedImport(w io.Writer, path string, res cscmd.ImportResult) {
	b, _ := json.Marshal(res.Feed)
	var f ticmd.KEVImportResult
	_ = json.Unmarshal(b, &f)
	switch {
	case f.Status == ticmd.KEVUnchanged:
		fmt.Fprintf(w, "%s holds the KEV catalogue in force (%d entries, version %s): nothing appended\n", path, f.Entries, f.CatalogueVersion)
	default:
		fmt.Fprintf(w, "imported the KEV catalogue %s from %s (%d entries): %d published, %d updated, %d withdrawn, %d unchanged\n",
			f.CatalogueVersion, path, f.Entries, f.Published, f.Updated, f.Withdrawn, f.Unchanged)
	}
}

// indicatorService is api.IndicatorService: the indicator commands and
// queries in one.
type indicatorService struct {
	*ticmd.Handlers
	*tiquery.Service
}
