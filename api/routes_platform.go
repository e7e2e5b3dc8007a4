package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// The platform module's routes: the dashboard (queries/platform), the API
// keys (commands/platform and queries/platform) and the audit log, stream
// history and verify (queries/platform.Audit).

// readsDashboard are the projections GET /api/v1/dashboard/summary reads
// (see QueryReads): the dashboard, its vulnerabilities section (decision
// 57) and its scan-engine section (decision 79).
var readsDashboard = []string{"platform.dashboard", "platform.dashboard_vulnerabilities", "platform.dashboard_scan_engine"}

func (s *Server) dashboardSummary(c echo.Context) error {
	meta, err := s.beginRead(c, nil, readsDashboard)
	if err != nil {
		return err
	}
	d, err := s.deps.Queries.DashboardSummary(c.Request().Context(), principal(c).TeamID)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, d, meta)
}

// API keys.

// KeyService is what the API key routes call: issue and revoke (commands)
// and list (the platform.api_keys read model). The process wires
// commands/platform.Handlers and queries/platform.Service behind it, and
// drops a revoked key from its authenticator's cache.
type KeyService interface {
	IssueKey(ctx context.Context, m commands.Meta, cmd platformcmd.IssueKey) (platformcmd.IssuedKey, error)
	RevokeKey(ctx context.Context, m commands.Meta, cmd platformcmd.RevokeKey) (commands.Result, error)
	ListKeys(ctx context.Context, team string, p queries.Page) (platformquery.APIKeyList, error)
}

// readsKeys is the projection GET /api/v1/keys reads (min_position waits
// for it).
var readsKeys = []string{"platform.api_keys"}

// KeyReads returns the projections the API key list reads.
func KeyReads() []string { return append([]string(nil), readsKeys...) }

// KeyCreated is the data of POST /api/v1/keys: the command's result and
// the key. Key is the plaintext API key, shown this once and never again
// (the server keeps only a salted hash). An idempotent replay of the
// request (same Idempotency-Key, header Idempotent-Replay: true) answers
// without it: the secret cannot be produced twice.
type KeyCreated struct {
	CommandResult
	Key    string `json:"key,omitempty"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	TeamID string `json:"team_id"`
}

// createKeyBody is the body of POST /api/v1/keys. The key's team is the
// caller's; a body cannot choose another.
type createKeyBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// revokeKeyBody is the optional body of POST /api/v1/keys/:id/revoke.
type revokeKeyBody struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) createKey(c echo.Context) error {
	meta, err := s.commandMeta(c)
	if err != nil {
		return err
	}
	var body createKeyBody
	if err := decodeBody(c, s.body(), &body); err != nil {
		return err
	}
	res, err := s.deps.Keys.IssueKey(c.Request().Context(), meta, platformcmd.IssueKey{
		Name: body.Name, Role: body.Role, TeamID: meta.TeamID,
	})
	if err != nil {
		return err
	}
	markReplay(c, res.Duplicate)
	// The answer carries a secret: no cache may keep it.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return respond(c, http.StatusCreated, KeyCreated{
		CommandResult: toCommandResult(res.Result),
		Key:           res.Key,
		Name:          res.Name,
		Role:          string(res.Role),
		TeamID:        res.TeamID,
	}, Meta{Position: res.Position})
}

func (s *Server) listKeys(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor})
	if err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsKeys)
	if err != nil {
		return err
	}
	list, err := s.deps.Keys.ListKeys(c.Request().Context(), principal(c).TeamID, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

func (s *Server) revokeKey(c echo.Context) error {
	var body revokeKeyBody
	var cmd platformcmd.RevokeKey
	meta, err := s.commandInput(c, s.optionalBody(), &cmd.KeyID, &body)
	if err != nil {
		return err
	}
	cmd.Reason = body.Reason
	res, err := s.deps.Keys.RevokeKey(c.Request().Context(), meta, cmd)
	if err != nil {
		return err
	}
	return commandAccepted(c, http.StatusAccepted, res)
}

// Audit.

// AuditService is what the audit routes call (admin only). *queries/platform.Audit
// satisfies it: the audit log is a read model (platform.audit_log); the
// stream views and verify read the event store itself.
type AuditService interface {
	// AuditLog is one page of the team's audit log, newest first.
	AuditLog(ctx context.Context, team string, f platformquery.AuditFilter, p queries.Page) (platformquery.AuditList, error)
	// StreamEvents are the stored events of one of the team's streams;
	// another team's or a missing stream is queries.ErrNotFound.
	StreamEvents(ctx context.Context, team, streamID string) ([]platformquery.AuditEvent, error)
	// StreamState is one of the team's streams as of at, and the state
	// rebuilt from it; not found as StreamEvents, and also when the
	// stream had no event yet at that point.
	StreamState(ctx context.Context, team, streamID string, at eventstore.AsOf) (platformquery.StreamState, error)
	// Verify checks every hash chain of the store; a broken chain is a
	// result (OK false), an error means the check could not run.
	Verify(ctx context.Context) (platformquery.VerifyResult, error)
}

// readsAuditLog is the projection GET /api/v1/audit/log reads.
var readsAuditLog = []string{"platform.audit_log"}

// Query parameters of the audit routes.
const (
	paramActor   = "actor"
	paramRoute   = "route"
	paramAsOf    = "as_of"
	paramVersion = "version"
)

func (s *Server) auditLog(c echo.Context) error {
	p, err := readParams(c, []string{paramLimit, paramCursor, paramActor, paramRoute})
	if err != nil {
		return err
	}
	var f platformquery.AuditFilter
	if err := textParams(p, textField{paramActor, &f.Actor}, textField{paramRoute, &f.Route}); err != nil {
		return err
	}
	page, meta, err := s.beginList(c, p, readsAuditLog)
	if err != nil {
		return err
	}
	list, err := s.deps.Audit.AuditLog(c.Request().Context(), principal(c).TeamID, f, page)
	if err != nil {
		return fromQuery(err)
	}
	meta.NextCursor = list.NextCursor
	return respond(c, http.StatusOK, nonNil(list.Items), meta)
}

// The stream views and verify read the event store, which is never
// behind: they accept min_position (every route does) but have nothing to
// wait for, and their meta has no position.

func (s *Server) auditStreamEvents(c echo.Context) error {
	id, err := pathID(c, "stream_id")
	if err != nil {
		return err
	}
	if err := s.storeRead(c, nil); err != nil {
		return err
	}
	events, err := s.deps.Audit.StreamEvents(c.Request().Context(), principal(c).TeamID, id)
	if err != nil {
		return fromQuery(err)
	}
	return respondStored(c, nonNil(events))
}

func (s *Server) auditStreamState(c echo.Context) error {
	id, err := pathID(c, "stream_id")
	if err != nil {
		return err
	}
	p, err := readParams(c, []string{paramAsOf, paramVersion})
	if err != nil {
		return err
	}
	if err := s.storeRead(c, &p); err != nil {
		return err
	}
	at, err := asOfParams(p)
	if err != nil {
		return err
	}
	st, err := s.deps.Audit.StreamState(c.Request().Context(), principal(c).TeamID, id, at)
	if err != nil {
		return fromQuery(err)
	}
	if st.Events == nil {
		st.Events = []platformquery.AuditEvent{}
	}
	return respondStored(c, st)
}

func (s *Server) auditVerify(c echo.Context) error {
	if err := s.storeRead(c, nil); err != nil {
		return err
	}
	res, err := s.deps.Audit.Verify(c.Request().Context())
	if err != nil {
		return err
	}
	// A broken chain is the answer, not a failure of the request.
	return respond(c, http.StatusOK, res, Meta{})
}

// storeRead validates the query string of a route that reads the event
// store (p == nil: it takes no parameter but min_position).
func (s *Server) storeRead(c echo.Context, p *params) error {
	if p == nil {
		read, err := readParams(c, nil)
		if err != nil {
			return err
		}
		p = &read
	}
	_, err := p.minPosition(c)
	return err
}

// asOfParams reads as_of (RFC 3339) or version (a stream version >= 1),
// not both; neither means the whole stream.
func asOfParams(p params) (eventstore.AsOf, error) {
	var at eventstore.AsOf
	rawTime, hasTime := p.Values[paramAsOf]
	rawVersion, hasVersion := p.Values[paramVersion]
	if hasTime && hasVersion {
		return at, invalidDetails([]ErrorDetail{
			{Field: paramAsOf, In: InQuery, Message: "give as_of or version, not both"},
			{Field: paramVersion, In: InQuery, Message: "give as_of or version, not both"},
		})
	}
	if hasTime {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(rawTime[0]))
		if err != nil {
			return at, invalidInput(InQuery, paramAsOf, "must be an RFC 3339 time, e.g. 2025-06-01T12:00:00Z")
		}
		at.Time = t
	}
	if hasVersion {
		v, err := strconv.ParseInt(strings.TrimSpace(rawVersion[0]), 10, 64)
		if err != nil || v < 1 {
			return at, invalidInput(InQuery, paramVersion, "must be a stream version: an integer from 1")
		}
		at.Version = v
	}
	return at, nil
}

// respondStored writes a success envelope without HTML-escaping, so that
// the data of stored events is the stored bytes (encoding/json would turn
// < > & U+2028 U+2029 into \u escapes): a client can recompute an event's
// hash from the answer.
func respondStored(c echo.Context, data any) error {
	env := Envelope{Success: true, Data: data, Meta: Meta{RequestID: requestID(c)}}
	c.Response().Header().Set(headerContentTypeOption, "nosniff")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
}
