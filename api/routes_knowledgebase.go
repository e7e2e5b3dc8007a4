package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/queries"
	kbquery "github.com/cspm-es/cspm-es/queries/knowledgebase"
)

// The knowledge base (docs/knowledge-base.md, decisions 80-81): a team's
// documents (text and Markdown), lexical (BM25) and semantic search over
// their chunks, and how far their embedding is.

// KnowledgeBaseService is what the knowledge-base routes call: the
// commands of *commands/knowledgebase.Handlers and the queries of
// *queries/knowledgebase.Service.
type KnowledgeBaseService interface {
	AddDocument(ctx context.Context, m commands.Meta, cmd kbcmd.AddDocument) (commands.Result, error)
	UpdateDocument(ctx context.Context, m commands.Meta, cmd kbcmd.UpdateDocument) (commands.Result, error)
	RemoveDocument(ctx context.Context, m commands.Meta, cmd kbcmd.RemoveDocument) (commands.Result, error)
	ListDocuments(ctx context.Context, team string, p queries.Page) (kbquery.DocumentList, error)
	GetDocument(ctx context.Context, team, id string) (kbquery.Document, error)
	Search(ctx context.Context, team string, req kbquery.SearchRequest) (kbquery.SearchResult, error)
	EmbeddingStatus(ctx context.Context, team string) (kbquery.EmbeddingStatus, error)
}

// readsKnowledgeBase is the projection the knowledge-base routes read.
var readsKnowledgeBase = []string{"knowledgebase.documents"}

// KnowledgeBaseReads are the projections each knowledge-base query route
// reads.
func KnowledgeBaseReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/kb/documents":     readsKnowledgeBase,
		"GET /api/v1/kb/documents/:id": readsKnowledgeBase,
		"GET /api/v1/kb/search":        readsKnowledgeBase,
		"GET /api/v1/kb/embeddings":    readsKnowledgeBase,
	}
}

// Query parameters of the search.
const (
	paramQ    = "q"
	paramMode = "mode"
	paramK    = "k"
)

// knowledgeBaseRoutes adds the routes to the table (routes.go).
func (s *Server) knowledgeBaseRoutes(add func(method, path string, role access.Role, scope Scope, op string, h echo.HandlerFunc)) {
	const v1 = "/api/v1"
	add(http.MethodPost, v1+"/kb/documents", access.Analyst, TeamCollection, "addKnowledgeDocument", s.addKnowledgeDocument)
	add(http.MethodPut, v1+"/kb/documents/:id", access.Analyst, TeamResource, "updateKnowledgeDocument", s.updateKnowledgeDocument)
	add(http.MethodDelete, v1+"/kb/documents/:id", access.Analyst, TeamResource, "removeKnowledgeDocument", s.removeKnowledgeDocument)
	add(http.MethodGet, v1+"/kb/documents", access.Viewer, TeamCollection, "listKnowledgeDocuments", s.listKnowledgeDocuments)
	add(http.MethodGet, v1+"/kb/documents/:id", access.Viewer, TeamResource, "getKnowledgeDocument", s.getKnowledgeDocument)
	add(http.MethodGet, v1+"/kb/search", access.Viewer, TeamCollection, "searchKnowledgeBase", s.searchKnowledgeBase)
	add(http.MethodGet, v1+"/kb/embeddings", access.Viewer, TeamCollection, "knowledgeEmbeddingStatus", s.knowledgeEmbeddingStatus)
}

func (s *Server) addKnowledgeDocument(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var cmd kbcmd.AddDocument
	if err := decodeBody(c, s.body(), &cmd); err != nil {
		return err
	}
	res, err := s.deps.KnowledgeBase.AddDocument(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/kb/documents/"+url.PathEscape(res.ID))
	return commandAccepted(c, http.StatusCreated, res)
}

func (s *Server) updateKnowledgeDocument(c echo.Context) error {
	var cmd kbcmd.UpdateDocument
	meta, err := s.commandInput(c, s.body(), &cmd.DocumentID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.KnowledgeBase.UpdateDocument(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) removeKnowledgeDocument(c echo.Context) error {
	var cmd kbcmd.RemoveDocument
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.DocumentID, &cmd)
	if err != nil {
		return err
	}
	res, err := s.deps.KnowledgeBase.RemoveDocument(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

func (s *Server) listKnowledgeDocuments(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsKnowledgeBase)
	if err != nil {
		return err
	}
	list, err := s.deps.KnowledgeBase.ListDocuments(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) getKnowledgeDocument(c echo.Context) error {
	return getOne(c, s, "id", readsKnowledgeBase, s.deps.KnowledgeBase.GetDocument)
}

// searchKnowledgeBase answers q over the team's chunks: mode lexical
// (BM25, the default), semantic (cosine over the cached vectors; 400
// naming mode without an embedding service, 503 when the service fails)
// or auto (semantic when a service is configured).
func (s *Server) searchKnowledgeBase(c echo.Context) error {
	p, err := readParams(c, []string{paramQ, paramMode, paramK})
	if err != nil {
		return err
	}
	var req kbquery.SearchRequest
	if err := textParams(p, textField{paramQ, &req.Q}, textField{paramMode, &req.Mode}); err != nil {
		return err
	}
	if raw, ok := p.Values[paramK]; ok {
		k, perr := strconv.Atoi(raw[0])
		if perr != nil || k < 1 || k > kbquery.MaxK {
			return invalidInput(InQuery, paramK, "must be an integer from 1 to %d", kbquery.MaxK)
		}
		req.K = k
	}
	meta, err := s.beginRead(c, &p, readsKnowledgeBase)
	if err != nil {
		return err
	}
	res, err := s.deps.KnowledgeBase.Search(c.Request().Context(), principal(c).TeamID, req)
	if errors.Is(err, kbquery.ErrEmbeddingService) {
		return &unavailableError{what: "the embedding service", err: err}
	}
	if err != nil {
		return fromQuery(err)
	}
	cache := "miss"
	if res.Cached {
		cache = "hit"
	}
	c.Response().Header().Set(HeaderSearchCache, cache)
	return respond(c, http.StatusOK, res, meta)
}

// HeaderSearchCache says whether a search was answered from the search
// cache (hit) or computed (miss).
const HeaderSearchCache = "X-Search-Cache"

func (s *Server) knowledgeEmbeddingStatus(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsKnowledgeBase)
	if err != nil {
		return err
	}
	st, err := s.deps.KnowledgeBase.EmbeddingStatus(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, st, meta)
}
