package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	tiquery "github.com/cspm-es/cspm-es/queries/threatintel"
)

// Threat intelligence: the KEV catalogue arrives through POST
// /api/v1/imports (?format=kev-json|kev-csv). The catalogue is global
// public data, so importing it needs the admin role (of any team); the
// analyst role the import route asks for is enough for scanner reports
// only (docs/threat-intelligence.md, decision 51).

// feedImportParams reads ?force= and refuses a KEV feed to a key below
// admin.
func feedImportParams(c echo.Context, p params, cmd *cscmd.ImportReport) error {
	force, err := p.flag(paramForce)
	if err != nil {
		return err
	}
	cmd.Force = force != nil && *force
	if isKEVFormat(cmd.Format) {
		if have := principal(c).Role; !have.Allows(access.Admin) {
			return &forbiddenError{have: have, need: access.Admin}
		}
	}
	return nil
}

// isKEVFormat tells a KEV feed's format name (kev-json, kev-csv).
func isKEVFormat(format string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(format)), "kev-")
}

// ThreatIntelQueries is what the KEV read routes call.
// *queries/threatintel.Service satisfies it.
type ThreatIntelQueries interface {
	ListKEV(ctx context.Context, f tiquery.KEVFilter, p queries.Page) (tiquery.KEVList, error)
	GetKEV(ctx context.Context, cve string, asOf time.Time) (tiquery.KEVDetail, error)
}

// readsKEV is the projection the KEV routes read (see QueryReads).
var readsKEV = []string{"threatintel.kev"}

// Query parameters of the KEV routes.
const (
	paramRansomware = "ransomware"
	paramVendor     = "vendor"
	paramSince      = "since"
	paramWithdrawn  = "withdrawn"
)

// timeParam reads an RFC 3339 time or a date (YYYY-MM-DD); zero when absent.
func timeParam(p params, name string) (time.Time, error) {
	v, err := p.text(name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalidInput(InQuery, name, "must be an RFC 3339 time or a date (YYYY-MM-DD)")
}

// listKEV lists the KEV catalogue in force (public: the same for every
// team), newest dateAdded first.
func (s *Server) listKEV(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramRansomware, paramVendor, paramSince, paramWithdrawn})
	if err != nil {
		return err
	}
	var f tiquery.KEVFilter
	if err := textParams(p, textField{paramVendor, &f.Vendor}); err != nil {
		return err
	}
	if f.Ransomware, err = p.flag(paramRansomware); err != nil {
		return err
	}
	withdrawn, err := p.flag(paramWithdrawn)
	if err != nil {
		return err
	}
	f.Withdrawn = withdrawn != nil && *withdrawn
	if f.Since, err = timeParam(p, paramSince); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsKEV)
	if err != nil {
		return err
	}
	list, err := s.deps.ThreatIntel.ListKEV(c.Request().Context(), f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

// getKEV returns one KEV entry with its history; ?as_of= says whether it
// was in the catalogue then.
func (s *Server) getKEV(c echo.Context) error {
	cve, err := pathID(c, "cve")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramAsOf})
	if err != nil {
		return err
	}
	asOf, err := timeParam(p, paramAsOf)
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, &p, readsKEV)
	if err != nil {
		return err
	}
	d, err := s.deps.ThreatIntel.GetKEV(c.Request().Context(), cve, asOf)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, d, meta)
}

// importLocation is where an import's outcome is read: the import, or for
// a KEV feed (not a team's import) the catalogue.
func importLocation(res cscmd.ImportResult) string {
	if res.Feed != nil {
		return "/api/v1/kev"
	}
	return "/api/v1/imports/" + res.ImportID
}
