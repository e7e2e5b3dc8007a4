package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// CloudAssetsQueries is what the asset routes call.
// *queries/cloudassets.Service satisfies it.
type CloudAssetsQueries interface {
	ListAssets(ctx context.Context, team string, f caquery.AssetFilter, p queries.Page) (caquery.AssetList, error)
	GetAsset(ctx context.Context, team, id string) (caquery.AssetDetail, error)
}

// readsAssets is the projection the asset routes read (see QueryReads).
var readsAssets = []string{"cloudassets.assets"}

// Query parameters of GET /api/v1/assets.
const (
	paramType   = "type"
	paramRegion = "region"
)

// assetRoutes are the asset inventory's routes (docs/assets.md).
func (s *Server) assetRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	add(http.MethodGet, "/api/v1/assets", access.Viewer, TeamCollection, "listAssets", s.listAssets)
	add(http.MethodGet, "/api/v1/assets/:id", access.Viewer, TeamResource, "getAsset", s.getAsset)
}

func (s *Server) listAssets(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramType, paramAccountID, paramRegion, paramStatus})
	if err != nil {
		return err
	}
	var f caquery.AssetFilter
	if err := textParams(p, textField{paramType, &f.Type}, textField{paramAccountID, &f.AccountID},
		textField{paramRegion, &f.Region}, textField{paramStatus, &f.Status}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAssets)
	if err != nil {
		return err
	}
	list, err := s.deps.Queries.ListAssets(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getAsset(c echo.Context) error {
	return getOne(c, s, "id", readsAssets, s.deps.Queries.GetAsset)
}
