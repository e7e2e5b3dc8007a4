package api_test

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ticmd "github.com/cspm-es/cspm-es/commands/threatintel"

	"github.com/cspm-es/cspm-es/queries"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

// fakeThreatIntel serves the KEV routes: one listed entry, one withdrawn.
type fakeThreatIntel struct{}

func fakeKEV(cve, status string) tiquery.KEVEntry {
	day := time.Date(2025, 5, 15, 0, 0, 0, 0, time.UTC)
	return tiquery.KEVEntry{CVEID: cve, VendorProject: "Google", Product: "Chromium", VulnerabilityName: "n", DateAdded: day,
		ShortDescription: "s", RequiredAction: "a", DueDate: day.AddDate(0, 0, 21), Status: status,
		ListedSince: time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), CatalogueVersion: "2025.06.09"}
}

func (fakeThreatIntel) ListKEV(_ context.Context, f tiquery.KEVFilter, _ queries.Page) (tiquery.KEVList, error) {
	if f.Withdrawn {
		return tiquery.KEVList{Items: []tiquery.KEVEntry{fakeKEV("CVE-2025-4664", "withdrawn")}}, nil
	}
	return tiquery.KEVList{Items: []tiquery.KEVEntry{fakeKEV("CVE-2025-5419", "listed")}}, nil
}

func (fakeThreatIntel) GetKEV(_ context.Context, cve string, asOf time.Time) (tiquery.KEVDetail, error) {
	cve = strings.ToUpper(cve)
	if cve != "CVE-2025-5419" {
		return tiquery.KEVDetail{}, queries.NotFound("KEV entry", cve)
	}
	e := fakeKEV(cve, "listed")
	v := e
	v.Status = ""
	d := tiquery.KEVDetail{KEVEntry: e, History: []tiquery.KEVVersion{{Kind: "published", ValidFrom: e.ListedSince, Entry: v}}}
	if !asOf.IsZero() {
		was := !asOf.Before(e.ListedSince)
		d.AsOf, d.IsKEV = asOf, &was
	}
	return d, nil
}

// contractKEVImporter hands KEV feeds to the threat-intelligence import,
// as cmd/cspm wires it.
func contractKEVImporter(h *ticmd.Handlers) cscmd.FormatImporter {
	return func(ctx context.Context, meta commands.Meta, format string, cmd cscmd.ImportReport) (cscmd.ImportResult, error) {
		res, err := h.ImportKEV(ctx, meta, ticmd.ImportKEV{Format: format, FileName: cmd.FileName, Force: cmd.Force, Body: cmd.Body})
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
