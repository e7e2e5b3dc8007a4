package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

// Native security scans (docs/security-scans.md): the targets Nuclei,
// ZAP, testssl.sh and SSLyze reports named, and every tool's latest
// results for one target. The reports come in through POST
// /api/v1/imports (?format=nuclei-jsonl|nuclei-json|zap-json|testssl-json|sslyze-json).

// SecurityScanQueries is what the security-scan routes call.
// *queries/securityscans.Service satisfies it.
type SecurityScanQueries interface {
	ListTargets(ctx context.Context, team, provider string, p queries.Page) (ssquery.TargetList, error)
	GetTargetResults(ctx context.Context, team, target string) (ssquery.TargetResults, error)
}

// readsSecurityScans is the projection the routes read.
var readsSecurityScans = []string{"securityscans.results"}

// SecurityScanReads are the projections each security-scan route reads.
func SecurityScanReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/targets":                 readsSecurityScans,
		"GET /api/v1/targets/:target/results": readsSecurityScans,
	}
}

// securityScanRoutes adds the routes to the table (routes.go).
func (s *Server) securityScanRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodGet, v1+"/targets", access.Viewer, TeamCollection, "listTargets", s.listTargets)
	add(http.MethodGet, v1+"/targets/:target/results", access.Viewer, TeamResource, "getTargetResults", s.getTargetResults)
}

func (s *Server) listTargets(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramProvider})
	if err != nil {
		return err
	}
	var provider string
	if err := textParams(p, textField{paramProvider, &provider}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsSecurityScans)
	if err != nil {
		return err
	}
	list, err := s.deps.SecurityScans.ListTargets(c.Request().Context(), principal(c).TeamID, provider, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

// getTargetResults answers a target (its id, tgt-..., or a target that is
// a plain host:port) with every tool's latest results, its open findings
// and its certificates as the clock judges them now.
func (s *Server) getTargetResults(c echo.Context) error {
	target, err := pathID(c, "target")
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, readsSecurityScans)
	if err != nil {
		return err
	}
	res, err := s.deps.SecurityScans.GetTargetResults(c.Request().Context(), principal(c).TeamID, target)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, res, meta)
}
