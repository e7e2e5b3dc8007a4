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

// indicatorService is the indicator commands and queries in one, as
// cmd/cspm wires them.
type indicatorService struct {
	*ticmd.Handlers
	*tiquery.Service
}

// fakeIndicators answers the indicator routes with one indicator.
type fakeIndicators struct{ fakeCommandResults }

type fakeCommandResults struct{}

func (fakeCommandResults) result(id string) commands.Result {
	return commands.Result{ID: id, StreamID: "indicator-" + id, Version: 1, Position: 7, EventIDs: []string{"0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e31"}}
}

func (f fakeIndicators) CreateIndicator(context.Context, commands.Meta, ticmd.CreateIndicator) (commands.Result, error) {
	return f.result("0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e30"), nil
}

func (f fakeIndicators) UpdateIndicator(_ context.Context, _ commands.Meta, c ticmd.UpdateIndicator) (commands.Result, error) {
	return f.result(c.IndicatorID), nil
}

func (f fakeIndicators) ObserveIndicator(_ context.Context, _ commands.Meta, c ticmd.ObserveIndicator) (commands.Result, error) {
	return f.result(c.IndicatorID), nil
}

func (f fakeIndicators) RevokeIndicator(_ context.Context, _ commands.Meta, c ticmd.RevokeIndicator) (commands.Result, error) {
	return f.result(c.IndicatorID), nil
}

func (fakeIndicators) ListIndicators(context.Context, string, tiquery.IndicatorFilter, queries.Page) (tiquery.IndicatorList, error) {
	return tiquery.IndicatorList{Items: []tiquery.Indicator{fakeIndicator()}}, nil
}

func (fakeIndicators) GetIndicator(_ context.Context, _, id string) (tiquery.Indicator, error) {
	if id != fakeIndicator().ID {
		return tiquery.Indicator{}, queries.NotFound("indicator", id)
	}
	return fakeIndicator(), nil
}

func (fakeIndicators) IndicatorMatches(_ context.Context, _, id string, _ queries.Page) (tiquery.IndicatorMatches, error) {
	if id != fakeIndicator().ID {
		return tiquery.IndicatorMatches{}, queries.NotFound("indicator", id)
	}
	at := time.Date(2026, 1, 2, 15, 10, 0, 0, time.UTC)
	return tiquery.IndicatorMatches{IndicatorID: id, Value: "evil.example.com", Sightings: 1, FirstSeen: at, LastSeen: at,
		Items: []tiquery.Sighting{{Resource: "arn:aws:route53:::hostedzone/Z1/evil.example.com", FirstSeen: at, LastSeen: at}}}, nil
}

func fakeIndicator() tiquery.Indicator {
	at := time.Date(2026, 1, 2, 15, 10, 0, 0, time.UTC)
	return tiquery.Indicator{ID: "0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e30", Type: "domain", Value: "evil.example.com", RawValue: "Evil.Example.COM.",
		Confidence: 80, Source: "partner feed", ValidFrom: at, Status: "active", CreatedAt: at, UpdatedAt: at}
}
