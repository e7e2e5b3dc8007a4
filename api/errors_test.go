package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
)

// TestErrorMapping: every error kind a command can return leaves as its
// status and code, in the envelope, from the one error handler.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		check      func(t *testing.T, e *api.ErrorBody)
	}{
		{
			name:       "validation",
			err:        &domain.ValidationError{Fields: []domain.FieldError{{Field: "reason", Message: "is required"}}},
			wantStatus: http.StatusBadRequest, wantCode: api.CodeValidationFailed,
			check: func(t *testing.T, e *api.ErrorBody) {
				require.Len(t, e.Details, 1)
				assert.Equal(t, "reason", e.Details[0].Field)
				assert.Equal(t, "is required", e.Details[0].Message)
			},
		},
		{
			name:       "rule violation keeps its code",
			err:        fmt.Errorf("fail scan: %w", domain.Rule("SCAN_ALREADY_FINISHED", "scan %s already finished", "s1")),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "SCAN_ALREADY_FINISHED",
			check: func(t *testing.T, e *api.ErrorBody) { assert.Equal(t, "scan s1 already finished", e.Message) },
		},
		{
			name:       "rule violation without a code",
			err:        &domain.RuleError{Message: "no"},
			wantStatus: http.StatusUnprocessableEntity, wantCode: api.CodeRuleViolation,
		},
		{
			name:       "not found",
			err:        fmt.Errorf("load scan: %w", domain.ErrNotFound),
			wantStatus: http.StatusNotFound, wantCode: api.CodeNotFound,
		},
		{
			name:       "conflict with current version",
			err:        fmt.Errorf("append: %w", &eventstore.ConflictError{StreamID: "scan-1", Expected: eventstore.Exact(2), Current: 5}),
			wantStatus: http.StatusConflict, wantCode: api.CodeConflict,
			check: func(t *testing.T, e *api.ErrorBody) {
				require.Len(t, e.Details, 1)
				require.NotNil(t, e.Details[0].CurrentVersion)
				assert.Equal(t, int64(5), *e.Details[0].CurrentVersion)
				assert.Equal(t, "scan-1", e.Details[0].StreamID)
			},
		},
		{
			name:       "conflict on a stream that does not exist yet reports version 0",
			err:        &eventstore.ConflictError{StreamID: "scan-1", Expected: eventstore.Exact(1), Current: 0},
			wantStatus: http.StatusConflict, wantCode: api.CodeConflict,
			check: func(t *testing.T, e *api.ErrorBody) {
				require.Len(t, e.Details, 1)
				require.NotNil(t, e.Details[0].CurrentVersion)
				assert.Equal(t, int64(0), *e.Details[0].CurrentVersion)
			},
		},
		{
			name:       "another team's id: nothing about its stream",
			err:        fmt.Errorf("RaiseFindings: %w", &commands.IDInUseError{Field: "findings[2].finding_id", ID: "f-1"}),
			wantStatus: http.StatusConflict, wantCode: api.CodeIDInUse,
			check: func(t *testing.T, e *api.ErrorBody) {
				require.Len(t, e.Details, 1)
				assert.Equal(t, api.ErrorDetail{Field: "findings[2].finding_id", In: api.InBody, Message: "is already in use"}, e.Details[0])
			},
		},
		{
			name:       "bare conflict sentinel",
			err:        eventstore.ErrConflict,
			wantStatus: http.StatusConflict, wantCode: api.CodeConflict,
		},
		{
			name:       "idempotency key reused",
			err:        fmt.Errorf("append: %w", eventstore.ErrIdempotencyMismatch),
			wantStatus: http.StatusUnprocessableEntity, wantCode: api.CodeIdempotencyKeyReused,
			check: func(t *testing.T, e *api.ErrorBody) {
				require.Len(t, e.Details, 1)
				assert.Equal(t, "Idempotency-Key", e.Details[0].Field)
			},
		},
		{
			name:       "deadline",
			err:        fmt.Errorf("append: %w", context.DeadlineExceeded),
			wantStatus: http.StatusGatewayTimeout, wantCode: api.CodeTimeout,
		},
		{
			name:       "canceled",
			err:        context.Canceled,
			wantStatus: http.StatusServiceUnavailable, wantCode: api.CodeRequestCanceled,
		},
		{
			name:       "invalid append is our bug, not the client's",
			err:        fmt.Errorf("%w: no events", eventstore.ErrInvalidAppend),
			wantStatus: http.StatusInternalServerError, wantCode: api.CodeInternal,
		},
		{
			name:       "anything else is internal and hides the cause",
			err:        errors.New("disk full at /var/secret/cspm_events.sqlite"),
			wantStatus: http.StatusInternalServerError, wantCode: api.CodeInternal,
			check: func(t *testing.T, e *api.ErrorBody) {
				assert.NotContains(t, e.Message, "secret")
				assert.Empty(t, e.Details)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFakeEnv(t)
			env.cmds.err = tt.err
			res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/fail", Body: `{"reason":"x"}`})
			assert.Equal(t, tt.wantStatus, res.Status)
			assert.False(t, res.Env.Success)
			require.NotNil(t, res.Env.Error, "body: %s", res.Raw)
			assert.Equal(t, tt.wantCode, res.Env.Error.Code)
			assert.NotEmpty(t, res.Env.Error.Message)
			assert.Equal(t, res.Header.Get("X-Request-ID"), res.Env.Meta.RequestID)
			assert.Nil(t, res.Env.Data)
			if tt.check != nil {
				tt.check(t, res.Env.Error)
			}
		})
	}
}

// TestInternalErrorIsLoggedWithRequestID: the cause of a 500 is in the
// log, tied to the request id the client got.
func TestInternalErrorIsLoggedWithRequestID(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	env.cmds.err = errors.New("disk full at /var/secret")
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/fail", Body: `{"reason":"x"}`})
	require.Equal(t, http.StatusInternalServerError, res.Status)
	id := res.Header.Get("X-Request-ID")
	assert.Contains(t, res.Env.Error.Message, id)
	assert.Contains(t, env.logs.String(), `"request_id":"`+id+`"`)
	assert.Contains(t, env.logs.String(), "disk full at /var/secret")
}

func TestPanicBecomesInternalError(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	env.cmds.panicWith = "boom in handler"
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/start"})
	assert.Equal(t, http.StatusInternalServerError, res.Status)
	require.NotNil(t, res.Env.Error)
	assert.Equal(t, api.CodeInternal, res.Env.Error.Code)
	assert.NotContains(t, res.Env.Error.Message, "boom")
	logs := env.logs.String()
	assert.Contains(t, logs, "boom in handler")
	assert.Contains(t, logs, "stack")
	assert.Contains(t, logs, `"status":500`, "the access log sees the final status")
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t, func(c *api.ServerConfig, _ *api.Deps) { c.RequestTimeout = 20 * time.Millisecond })
	env.cmds.waitCtx = true
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/start"})
	assert.Equal(t, http.StatusGatewayTimeout, res.Status)
	require.NotNil(t, res.Env.Error)
	assert.Equal(t, api.CodeTimeout, res.Env.Error.Code)
}

func TestUnknownRouteAndMethodUseTheEnvelope(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)

	res := serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/nope"})
	assert.Equal(t, http.StatusNotFound, res.Status)
	require.NotNil(t, res.Env.Error)
	assert.Equal(t, api.CodeNotFound, res.Env.Error.Code)

	res = serve(t, env.srv.Handler(), request{Method: http.MethodGet, Path: "/api/v1/scans"})
	assert.Equal(t, http.StatusMethodNotAllowed, res.Status)
	require.NotNil(t, res.Env.Error)
	assert.Equal(t, api.CodeMethodNotAllowed, res.Env.Error.Code)
	assert.Contains(t, res.Header.Get("Allow"), http.MethodPost)
	assert.Empty(t, env.cmds.Calls())
}
