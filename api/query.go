package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/queries"
)

// Query routes read query parameters strictly, as command routes read
// bodies: only the parameters the route takes, each once unless it may
// repeat, and every problem named (in: "query").

// MaxPageLimit is the largest page a list route returns (limit).
const MaxPageLimit = 200

// Query parameters.
const (
	paramLimit       = "limit"
	paramCursor      = "cursor"
	paramMinPosition = "min_position"
)

// params are a request's validated query parameters.
type params struct{ url.Values }

// readParams parses the query string and checks it against the names the
// route takes (min_position is always taken); names in repeatable may be
// given several times.
func readParams(c echo.Context, names []string, repeatable ...string) (params, error) {
	return checkParams(c, append(slices.Clone(names), paramMinPosition), repeatable)
}

// noParams checks the query string of a route that takes no parameter at
// all, not even min_position (it reads no projection: projection status,
// the database registry): any parameter is a 400 naming it.
func noParams(c echo.Context) error {
	_, err := checkParams(c, nil, nil)
	return err
}

// checkParams parses the query string and checks it against the names in
// taken: an unknown name, a name given twice that is not repeatable, or a
// name or value that is not valid UTF-8 once percent-decoded is a 400
// naming it.
func checkParams(c echo.Context, taken, repeatable []string) (params, error) {
	values, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return params{}, &requestError{status: http.StatusBadRequest, body: ErrorBody{
			Code: CodeValidationFailed, Message: "invalid input",
			Details: []ErrorDetail{{In: InQuery, Message: "the query string is malformed"}},
		}}
	}
	takes := "this route takes no query parameters"
	if len(taken) > 0 {
		takes = "this route takes " + strings.Join(taken, ", ")
	}
	var details []ErrorDetail
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch {
		case !utf8.ValidString(name):
			details = append(details, ErrorDetail{Field: strings.ToValidUTF8(name, "\uFFFD"), In: InQuery,
				Message: "the parameter name is not valid UTF-8 (once percent-decoded)"})
		case !slices.Contains(taken, name):
			details = append(details, ErrorDetail{Field: name, In: InQuery, Message: "unknown query parameter; " + takes})
		case len(values[name]) > 1 && !slices.Contains(repeatable, name):
			details = append(details, ErrorDetail{Field: name, In: InQuery, Message: "must be given once"})
		case slices.ContainsFunc(values[name], notUTF8):
			details = append(details, ErrorDetail{Field: name, In: InQuery, Message: "is not valid UTF-8 (once percent-decoded)"})
		}
	}
	if len(details) > 0 {
		return params{}, invalidDetails(details[:min(len(details), maxDetails)])
	}
	return params{values}, nil
}

// text returns a single-valued text filter ("" when absent); present but
// empty is an error, since leaving the parameter out is how not to filter.
func (p params) text(name string) (string, error) {
	vs, ok := p.Values[name]
	if !ok {
		return "", nil
	}
	if strings.TrimSpace(vs[0]) == "" {
		return "", invalidInput(InQuery, name, "is empty; leave it out not to filter")
	}
	return vs[0], nil
}

// list returns a filter that may repeat and hold comma-separated values
// (severity=high&severity=critical or severity=high,critical).
func (p params) list(name string) ([]string, error) {
	var out []string
	for _, v := range p.Values[name] {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				return nil, invalidInput(InQuery, name, "holds an empty value")
			}
			out = append(out, part)
		}
	}
	return out, nil
}

// flag returns a single-valued boolean filter (nil when absent): exactly
// "true" or "false".
func (p params) flag(name string) (*bool, error) {
	vs, ok := p.Values[name]
	if !ok {
		return nil, nil
	}
	switch vs[0] {
	case "true":
		return ptrTo(true), nil
	case "false":
		return ptrTo(false), nil
	}
	return nil, invalidInput(InQuery, name, "must be true or false; leave it out not to filter")
}

func ptrTo[T any](v T) *T { return &v }

// page reads limit (1..MaxPageLimit, default queries.DefaultLimit) and cursor.
func (p params) page() (limit int, cursor string, err error) {
	if raw, ok := p.Values[paramLimit]; ok {
		n, perr := strconv.Atoi(raw[0])
		if perr != nil || n < 1 || n > MaxPageLimit {
			return 0, "", invalidInput(InQuery, paramLimit, "must be an integer from 1 to %d", MaxPageLimit)
		}
		limit = n
	}
	if raw, ok := p.Values[paramCursor]; ok {
		if raw[0] == "" {
			return 0, "", invalidInput(InQuery, paramCursor, "is empty; leave it out for the first page")
		}
		cursor = raw[0]
	}
	return limit, cursor, nil
}

// minPosition reads read-your-writes' position from the min_position
// parameter or the X-Min-Position header (0 when neither is given; when
// both are, the larger).
func (p params) minPosition(c echo.Context) (int64, error) {
	var pos int64
	if raw, ok := p.Values[paramMinPosition]; ok {
		n, err := parsePosition(raw[0])
		if err != nil {
			return 0, invalidInput(InQuery, paramMinPosition, "%s", err)
		}
		pos = n
	}
	switch hs := c.Request().Header.Values(HeaderMinPosition); len(hs) {
	case 0:
	case 1:
		n, err := parsePosition(hs[0])
		if err != nil {
			return 0, invalidInput(InHeader, HeaderMinPosition, "%s", err)
		}
		pos = max(pos, n)
	default:
		return 0, invalidInput(InHeader, HeaderMinPosition, "must be sent once")
	}
	return pos, nil
}

func parsePosition(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("must be a non-negative integer (an event-store position)")
	}
	return n, nil
}

func notUTF8(s string) bool { return !utf8.ValidString(s) }

func invalidDetails(details []ErrorDetail) *requestError {
	return &requestError{status: http.StatusBadRequest, body: ErrorBody{Code: CodeValidationFailed, Message: "invalid input", Details: details}}
}

// queryInputError marks a *domain.ValidationError raised by a query: its
// fields are query parameters.
type queryInputError struct{ err error }

func (e *queryInputError) Error() string { return e.err.Error() }
func (e *queryInputError) Unwrap() error { return e.err }

// fromQuery marks the validation errors of a query as about query
// parameters; other errors pass unchanged.
func fromQuery(err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return &queryInputError{err}
	}
	return err
}

// ctxKeyReadMeta holds the read-your-writes meta of a query once it is
// known, so that an error answered after it (a 404 for a scan not
// projected yet, a 503...) carries position and stale too.
const ctxKeyReadMeta = "api.read_meta"

// readMeta is read-your-writes for one query over the projections reads:
// wait (up to the configured bound) until they passed minPos, then say
// how far they have processed the stream. Call it before running the
// query, so that the position is one the answer reflects at least. The
// meta is also kept in c for the error handler (errorMeta).
func (s *Server) readMeta(c echo.Context, reads []string, minPos int64) (Meta, error) {
	meta, err := s.waitRead(c.Request().Context(), reads, minPos)
	if err == nil {
		c.Set(ctxKeyReadMeta, meta)
	}
	return meta, err
}

// errorMeta is the meta of an error answer: the request id, plus position
// and stale when the error came after a query's read-your-writes wait
// (a "not found" that may only be "not projected yet" says stale: true).
func errorMeta(c echo.Context) Meta {
	m := Meta{RequestID: requestID(c)}
	if read, ok := c.Get(ctxKeyReadMeta).(Meta); ok {
		m.Position, m.Stale, m.kind = read.Position, read.Stale, metaRead
	}
	return m
}

func (s *Server) waitRead(ctx context.Context, reads []string, minPos int64) (Meta, error) {
	stale := false
	if minPos > 0 {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadWaitTimeout)
		ok := s.deps.Progress.WaitFor(wctx, reads, minPos)
		cancel()
		if !ok {
			if err := ctx.Err(); err != nil {
				return Meta{}, err
			}
			stale = true
		}
	}
	pos, err := s.deps.Progress.Processed(ctx, reads)
	if err != nil {
		return Meta{}, fmt.Errorf("read progress of %v: %w", reads, err)
	}
	if !stale {
		pos = max(pos, minPos)
	}
	return Meta{Position: pos, Stale: stale, kind: metaRead}, nil
}

// QueryReads returns, for each query route ("GET /api/v1/scans"), the
// projections it reads, as the projector runtime names them
// (projections/orchestration, projections/cloudsecurity,
// projections/platform; a test checks they are registered). min_position
// waits for these, and meta.position is how far they all are.
func QueryReads() map[string][]string {
	return map[string][]string{
		"GET /api/v1/scans":                readsScans,
		"GET /api/v1/scans/:id":            readsScan,
		"GET /api/v1/findings":             readsFindingsAccepted,
		"GET /api/v1/findings/:id/history": readsFindings,
		"GET /api/v1/imports":              readsFindings,
		"GET /api/v1/imports/:id":          readsFindings,
		"GET /api/v1/scans/:id/delta":      readsScanDelta,
		"GET /api/v1/dashboard/summary":    readsDashboard,
		"GET /api/v1/audit/log":            readsAuditLog,
		// Muting rules.
		"GET /api/v1/muting-rules":     readsMutingRules,
		"GET /api/v1/muting-rules/:id": readsMutingRules,
		// Threat intelligence.
		"GET /api/v1/kev":                    readsKEV,
		"GET /api/v1/kev/:cve":               readsKEV,
		"GET /api/v1/indicators":             readsIndicators,
		"GET /api/v1/indicators/:id":         readsIndicators,
		"GET /api/v1/indicators/:id/matches": readsIndicatorMatches,
		// Assets.
		"GET /api/v1/assets":     readsAssets,
		"GET /api/v1/assets/:id": readsAssets,
		// Compliance.
		"GET /api/v1/compliance":                    readsCompliance,
		"GET /api/v1/compliance/:framework":         readsCompliance,
		"GET /api/v1/compliance/:framework/changes": readsCompliance,
		// Cloud accounts.
		"GET /api/v1/accounts":     readsAccounts,
		"GET /api/v1/accounts/:id": readsAccounts,
	}
}

// Query parameters of the list routes.
const (
	paramStatus    = "status"
	paramAccountID = "account_id"
	paramTool      = "tool"
	paramScanID    = "scan_id"
	paramSeverity  = "severity"
	// The findings list's flags.
	paramMuted      = "muted"
	paramSuppressed = "suppressed"
)

// beginRead validates the query string of a route whose only parameter
// is min_position (p == nil) or takes p as read, then waits for reads to
// pass min_position (read your writes) and returns the answer's meta.
func (s *Server) beginRead(c echo.Context, p *params, reads []string) (Meta, error) {
	if p == nil {
		read, err := readParams(c, nil)
		if err != nil {
			return Meta{}, err
		}
		p = &read
	}
	minPos, err := p.minPosition(c)
	if err != nil {
		return Meta{}, err
	}
	return s.readMeta(c, reads, minPos)
}

// beginList is beginRead for a list: it also reads the page.
func (s *Server) beginList(c echo.Context, p params, reads []string) (queries.Page, Meta, error) {
	limit, cursor, err := p.page()
	if err != nil {
		return queries.Page{}, Meta{}, err
	}
	meta, err := s.beginRead(c, &p, reads)
	if err != nil {
		return queries.Page{}, Meta{}, err
	}
	meta.kind = metaList
	return queries.Page{Limit: limit, Cursor: cursor}, meta, nil
}

// textField is a single-valued text filter and where it goes.
type textField struct {
	name string
	dst  *string
}

// textParams reads text filters into their fields, in order.
func textParams(p params, fields ...textField) error {
	for _, f := range fields {
		v, err := p.text(f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// getOne answers GET of one resource of the caller's team: the id in the
// path parameter param, read your writes on reads, then get's answer
// (its errors mapped by fromQuery).
func getOne[T any](c echo.Context, s *Server, param string, reads []string, get func(ctx context.Context, team, id string) (T, error)) error {
	id, err := pathID(c, param)
	if err != nil {
		return err
	}
	meta, err := s.beginRead(c, nil, reads)
	if err != nil {
		return err
	}
	v, err := get(c.Request().Context(), principal(c).TeamID, id)
	if err != nil {
		return fromQuery(err)
	}
	return respond(c, http.StatusOK, v, meta)
}
