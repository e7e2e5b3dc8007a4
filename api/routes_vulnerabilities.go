package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/queries"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// VulnerabilityQueries is what the image and vulnerability routes call.
// *queries/vulnerabilities.Service satisfies it. The catalog is public
// data; images and occurrences are the caller's team's.
type VulnerabilityQueries interface {
	ListImages(ctx context.Context, team string, f vulnquery.ImageFilter, p queries.Page) (vulnquery.ImageList, error)
	GetImage(ctx context.Context, team, digest string) (vulnquery.ImageDetail, error)
	ListOccurrences(ctx context.Context, team string, f vulnquery.OccurrenceFilter, p queries.Page) (vulnquery.OccurrenceList, error)
	GetVulnerability(ctx context.Context, team, id string) (vulnquery.VulnerabilityDetail, error)
}

// readsVulnerabilities is the projection the routes read; the routes
// answering occurrences read their SLA clocks too (accepted).
var (
	readsVulnerabilities = []string{"vulnerabilities.occurrences"}
	readsOccurrences     = []string{"vulnerabilities.occurrences", "vulnerabilities.sla"}
)

// VulnerabilityReads are the projections each of these routes reads (part
// of QueryReads when the server has the vulnerability queries).
func VulnerabilityReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/images":              readsVulnerabilities,
		"GET /api/v1/images/:digest":      readsOccurrences,
		"GET /api/v1/vulnerabilities":     readsOccurrences,
		"GET /api/v1/vulnerabilities/:id": readsOccurrences,
	}
}

// Query parameters of the vulnerability routes.
const (
	paramKind   = "kind"
	paramEOSL   = "eosl"
	paramID     = "id"
	paramHasFix = "has_fix"
	paramKEV    = "kev"
)

func (s *Server) listImages(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramKind, paramEOSL})
	if err != nil {
		return err
	}
	var f vulnquery.ImageFilter
	if err := textParams(p, textField{paramKind, &f.Kind}); err != nil {
		return err
	}
	if f.EOSL, err = p.flag(paramEOSL); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsVulnerabilities)
	if err != nil {
		return err
	}
	list, err := s.deps.Vulnerabilities.ListImages(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getImage(c echo.Context) error {
	digest, err := pathID(c, "digest")
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, readsOccurrences)
	if err != nil {
		return err
	}
	img, err := s.deps.Vulnerabilities.GetImage(c.Request().Context(), principal(c).TeamID, digest)
	if err != nil {
		return fromQuery(err)
	}
	img.OpenOccurrences = nonNil(img.OpenOccurrences)
	return respond(c, http.StatusOK, img, meta)
}

func (s *Server) listVulnerabilities(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramSeverity, paramID, paramStatus, paramHasFix, paramKEV, paramAsOf})
	if err != nil {
		return err
	}
	var f vulnquery.OccurrenceFilter
	if err := textParams(p, textField{paramSeverity, &f.Severity}, textField{paramID, &f.VulnerabilityID}, textField{paramStatus, &f.Status}); err != nil {
		return err
	}
	if f.HasFix, err = p.flag(paramHasFix); err != nil {
		return err
	}
	if f.KEV, err = p.flag(paramKEV); err != nil {
		return err
	}
	if f.AsOf, err = timeParam(p, paramAsOf); err != nil { // with kev=true: "was it KEV at T"
		return err
	}
	page, meta, err := s.beginList(c, p, readsOccurrences)
	if err != nil {
		return err
	}
	list, err := s.deps.Vulnerabilities.ListOccurrences(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getVulnerability(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, readsOccurrences)
	if err != nil {
		return err
	}
	v, err := s.deps.Vulnerabilities.GetVulnerability(c.Request().Context(), principal(c).TeamID, id)
	if err != nil {
		return fromQuery(err)
	}
	v.Occurrences = nonNil(v.Occurrences)
	return respond(c, http.StatusOK, v, meta)
}
