package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Error codes of the envelope's error.code (docs/http-api.md has the table).
// A domain rule violation (422) uses the rule's own code instead.
const (
	CodeValidationFailed     = "VALIDATION_FAILED"      // 400: a field, path id or header is invalid
	CodeMalformedBody        = "MALFORMED_BODY"         // 400: the body is not the JSON object the route reads
	CodeNotFound             = "NOT_FOUND"              // 404
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"     // 405
	CodeConflict             = "CONFLICT"               // 409: the stream moved on; details carry current_version
	CodeIDInUse              = "ID_IN_USE"              // 409: a chosen id names a stream the caller's team does not own
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"      // 413
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" // 415
	CodeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED" // 422: same key, different request
	CodeRuleViolation        = "RULE_VIOLATION"         // 422: a rule error without a code of its own
	CodeReportRejected       = "REPORT_REJECTED"        // 422: an imported report was rejected whole; Location names the import
	CodeRebuildInProgress    = "REBUILD_IN_PROGRESS"    // 409: a rebuild of that projection is running
	CodeRetryFailed          = "RETRY_FAILED"           // 422: a parked event failed again; it stays parked
	CodeInternal             = "INTERNAL"               // 500: the cause is logged, never sent
	CodeRequestCanceled      = "REQUEST_CANCELED"       // 503: the client went away
	CodeNotReady             = "NOT_READY"              // 503: /readyz with a failing check
	CodeProjectorUnavailable = "PROJECTOR_UNAVAILABLE"  // 503: this process does not run the projector role
	CodeTimeout              = "TIMEOUT"                // 504: the request deadline passed
	CodeUnauthenticated      = "UNAUTHENTICATED"        // 401: no valid API key
	CodeForbidden            = "FORBIDDEN"              // 403: the key's role is too low for the route
	CodeRateLimited          = "RATE_LIMITED"           // 429: the key spent its request budget; see Retry-After
	CodeUnavailable          = "UNAVAILABLE"            // 503: a dependency (event store, read models, bus) is down
)

// requestError is an error api itself detects in a request (body, header,
// path) before any command runs. It already knows its status and body.
type requestError struct {
	status int
	body   ErrorBody
}

func (e *requestError) Error() string {
	if len(e.body.Details) == 0 {
		return e.body.Message
	}
	parts := make([]string, len(e.body.Details))
	for i, d := range e.body.Details {
		parts[i] = strings.TrimPrefix(d.Field+": "+d.Message, ": ")
	}
	return e.body.Message + ": " + strings.Join(parts, "; ")
}

func malformedBody(details ...ErrorDetail) *requestError {
	return &requestError{status: http.StatusBadRequest, body: ErrorBody{
		Code: CodeMalformedBody, Message: "the request body could not be read as the expected JSON object", Details: details,
	}}
}

func invalidInput(in, field, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, body: ErrorBody{
		Code: CodeValidationFailed, Message: "invalid input",
		Details: []ErrorDetail{{Field: field, In: in, Message: fmt.Sprintf(format, args...)}},
	}}
}

func payloadTooLarge(limit int64) *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge, body: ErrorBody{
		Code: CodePayloadTooLarge, Message: fmt.Sprintf("the request body exceeds the limit of %d bytes", limit),
	}}
}

func unsupportedMediaType(got string) *requestError {
	msg := "the request body must be sent as Content-Type: application/json"
	if got != "" {
		msg += fmt.Sprintf(" (got %q)", got)
	}
	return &requestError{status: http.StatusUnsupportedMediaType, body: ErrorBody{
		Code: CodeUnsupportedMediaType, Message: msg,
		Details: []ErrorDetail{{Field: "Content-Type", In: InHeader, Message: "want application/json"}},
	}}
}

// classify maps an error of any layer to its HTTP status and envelope
// error. It is the only place that does so. internal reports an error whose
// cause must be logged because the client only gets a generic message.
func classify(err error) (status int, body ErrorBody, internal bool) {
	var (
		reqErr   *requestError
		valErr   *domain.ValidationError
		retryErr *RetryError
		ruleErr  *domain.RuleError
		conflict *eventstore.ConflictError
		tooLarge *http.MaxBytesError
		tooBig   *eventstore.EventTooLargeError
		echoErr  *echo.HTTPError
		forbid   *forbiddenError
		limited  *rateLimitedError
		down     *unavailableError
		inUse    *commands.IDInUseError
		rejected *cscmd.RejectedError
		mediaErr *cscmd.UnsupportedMediaTypeError
	)
	switch {
	case errors.As(err, &reqErr):
		return reqErr.status, reqErr.body, false

	case errors.As(err, &forbid):
		return http.StatusForbidden, ErrorBody{Code: CodeForbidden, Message: forbid.Error()}, false

	case errors.As(err, &limited):
		return http.StatusTooManyRequests, ErrorBody{Code: CodeRateLimited,
			Message: "too many requests with this API key; retry after the Retry-After seconds"}, false

	case errors.As(err, &down):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable,
			Message: down.what + " is unavailable; retry later"}, true

	case errors.Is(err, eventstore.ErrUnavailable):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable,
			Message: "the event store is unavailable; retry later (commands with the same Idempotency-Key are safe to retry)"}, true

	case errors.Is(err, readmodel.ErrUnavailable):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable,
			Message: "the read models are unavailable; retry later"}, true

	case errors.As(err, &valErr):
		in := ""
		if _, ok := errors.AsType[*queryInputError](err); ok {
			in = InQuery
		}
		details := make([]ErrorDetail, len(valErr.Fields))
		for i, f := range valErr.Fields {
			details[i] = ErrorDetail{Field: f.Field, In: in, Message: f.Message}
		}
		return http.StatusBadRequest, ErrorBody{Code: CodeValidationFailed, Message: "invalid input", Details: details}, false

	case errors.As(err, &mediaErr):
		return http.StatusUnsupportedMediaType, ErrorBody{Code: CodeUnsupportedMediaType, Message: mediaErr.Error(),
			Details: []ErrorDetail{{Field: echo.HeaderContentType, In: InHeader, Message: "no report format is sent as this media type"}}}, false

	case errors.As(err, &rejected):
		return http.StatusUnprocessableEntity, ErrorBody{Code: CodeReportRejected,
			Message: "the report was rejected whole and nothing of it imported: " + rejected.Result.Reason,
			Details: []ErrorDetail{{In: InBody, Message: rejected.Result.Reason}}}, false

	case errors.As(err, &ruleErr):
		code := ruleErr.Code
		if code == "" {
			code = CodeRuleViolation
		}
		return http.StatusUnprocessableEntity, ErrorBody{Code: code, Message: ruleErr.Message}, false

	case errors.As(err, &retryErr):
		return http.StatusUnprocessableEntity, ErrorBody{
			Code:    CodeRetryFailed,
			Message: fmt.Sprintf("a parked event failed again and stays parked (%d applied before it): %v", retryErr.Applied, retryErr.Err),
		}, false

	case errors.Is(err, ErrRebuildInProgress):
		return http.StatusConflict, ErrorBody{Code: CodeRebuildInProgress,
			Message: "a rebuild of this projection is already running; follow it in GET /api/v1/projections"}, false

	case errors.Is(err, ErrNoRebuild):
		return http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: "no rebuild of this projection is running"}, false

	case errors.Is(err, ErrNotParked):
		return http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: "no such parked event"}, false

	case errors.Is(err, ErrProjectorUnavailable):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeProjectorUnavailable,
			Message: "this process does not run the projector role (--roles), or another projector process owns this projection (owner in GET /api/v1/projections); send the request to one that does"}, false

	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: "not found"}, false

	case errors.As(err, &inUse):
		// Nothing about the stream that holds the id: the same answer
		// whatever its team did with it (no cross-team oracle).
		body := ErrorBody{Code: CodeIDInUse, Message: "this id is already in use; choose another, or leave it out to have one generated"}
		if inUse.Field != "" {
			body.Details = []ErrorDetail{{Field: inUse.Field, In: InBody, Message: "is already in use"}}
		}
		return http.StatusConflict, body, false

	case errors.Is(err, eventstore.ErrConflict):
		body := ErrorBody{Code: CodeConflict, Message: "the resource was changed by another request; reload it and retry"}
		if errors.As(err, &conflict) {
			current := conflict.Current
			body.Details = []ErrorDetail{{StreamID: conflict.StreamID, CurrentVersion: &current}}
		}
		return http.StatusConflict, body, false

	case errors.Is(err, eventstore.ErrIdempotencyMismatch):
		return http.StatusUnprocessableEntity, ErrorBody{
			Code:    CodeIdempotencyKeyReused,
			Message: "this Idempotency-Key was already used for a different request",
			Details: []ErrorDetail{{Field: HeaderIdempotencyKey, In: InHeader, Message: "already used with another request"}},
		}, false

	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, ErrorBody{Code: CodeTimeout, Message: "the request did not complete in time; retry it with the same Idempotency-Key"}, false

	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeRequestCanceled, Message: "the request was canceled before it completed"}, false

	case errors.As(err, &tooLarge):
		e := payloadTooLarge(tooLarge.Limit)
		return e.status, e.body, false

	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, ErrorBody{Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("the command would record a %s event whose %s is %d bytes, over the event store's limit of %d bytes; nothing was recorded",
				tooBig.Type, tooBig.What, tooBig.Size, tooBig.Limit),
			Details: []ErrorDetail{{Field: tooBig.What, Message: fmt.Sprintf("at most %d bytes", tooBig.Limit)}}}, false

	case errors.As(err, &echoErr):
		return classifyEcho(echoErr)

	default:
		return http.StatusInternalServerError, ErrorBody{Code: CodeInternal, Message: "internal error"}, true
	}
}

// classifyEcho maps the errors echo raises itself (no route, wrong method…).
func classifyEcho(e *echo.HTTPError) (int, ErrorBody, bool) {
	status := e.Code
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		return status, ErrorBody{Code: CodeInternal, Message: "internal error"}, true
	}
	var code string
	switch status {
	case http.StatusNotFound:
		code = CodeNotFound
	case http.StatusMethodNotAllowed:
		code = CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		code = CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		code = CodeUnsupportedMediaType
	default:
		code = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		if code == "" {
			code = "HTTP_" + fmt.Sprint(status)
		}
	}
	msg, ok := e.Message.(string)
	if !ok || msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	return status, ErrorBody{Code: code, Message: msg}, false
}

// handleError is echo's HTTPErrorHandler: every error any handler or
// middleware returns ends here and leaves as an envelope.
func (s *Server) handleError(err error, c echo.Context) {
	status, body, internal := classify(err)
	c.Set(ctxKeyErrorCode, body.Code)
	log := s.requestLogger(c)
	if internal {
		attrs := []any{slog.Int("status", status), slog.Any("error", err)}
		var pe *panicError
		if errors.As(err, &pe) {
			attrs = append(attrs, slog.String("stack", string(pe.stack)))
		}
		log.ErrorContext(c.Request().Context(), "request failed", attrs...)
		if body.Code == CodeInternal {
			body.Message = fmt.Sprintf("internal error (request id %s)", requestID(c))
		}
	}
	if c.Response().Committed {
		log.WarnContext(c.Request().Context(), "error after the response was committed", slog.Any("error", err))
		return
	}
	switch status {
	case http.StatusUnauthorized:
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="cspm"`)
	case http.StatusTooManyRequests:
		if limited, ok := errors.AsType[*rateLimitedError](err); ok {
			c.Response().Header().Set(echo.HeaderRetryAfter, retryAfterSeconds(limited.wait))
		}
	case http.StatusServiceUnavailable:
		if body.Code == CodeUnavailable {
			c.Response().Header().Set(echo.HeaderRetryAfter, "1")
		}
	}
	env := Envelope{Success: false, Error: &body, Meta: errorMeta(c)}
	if werr := writeEnvelope(c, status, env); werr != nil {
		log.WarnContext(c.Request().Context(), "writing the error response failed", slog.Any("error", werr))
	}
}
