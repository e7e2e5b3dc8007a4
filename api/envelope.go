package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Envelope is the shape of every response body:
//
//	{"success": true,  "data": ..., "meta": {...}}
//	{"success": false, "error": {"code": "...", "message": "...", "details": [...]}, "meta": {...}}
type Envelope struct {
	Success bool       `json:"success"`
	Data    any        `json:"data,omitempty"`
	Error   *ErrorBody `json:"error,omitempty"`
	Meta    Meta       `json:"meta"`
}

// Meta carries what is about the response rather than in it.
type Meta struct {
	RequestID string `json:"request_id,omitempty"`
	// Position is the global event-store position a command's events
	// reached: pass it as min_position to read your own writes.
	Position int64 `json:"position,omitempty"`
}

// ErrorBody describes a failed request. Code is stable and upper snake
// case; Message is for humans; Details point at what was wrong.
type ErrorBody struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details,omitempty"`
}

// ErrorDetail points at one problem. Which fields are set depends on the
// error: Field (+ In) for invalid input, Offset for a JSON syntax error,
// CurrentVersion for a conflict, Check for a failed readiness check.
type ErrorDetail struct {
	Field          string `json:"field,omitempty"`
	In             string `json:"in,omitempty"` // body (default), path or header
	Message        string `json:"message,omitempty"`
	Offset         *int64 `json:"offset,omitempty"` // byte offset into the body
	StreamID       string `json:"stream_id,omitempty"`
	CurrentVersion *int64 `json:"current_version,omitempty"`
	Check          string `json:"check,omitempty"`
}

// Where a request field lives.
const (
	InBody   = "body"
	InPath   = "path"
	InHeader = "header"
)

// Response headers this package sets.
const (
	HeaderRequestID         = "X-Request-ID"
	HeaderCorrelationID     = "X-Correlation-ID"
	HeaderIdempotencyKey    = "Idempotency-Key"
	HeaderIdempotentReplay  = "Idempotent-Replayed"
	headerContentTypeOption = "X-Content-Type-Options"
)

// respond writes a success envelope.
func respond(c echo.Context, status int, data any, meta Meta) error {
	meta.RequestID = requestID(c)
	return writeEnvelope(c, status, Envelope{Success: true, Data: data, Meta: meta})
}

func writeEnvelope(c echo.Context, status int, env Envelope) error {
	c.Response().Header().Set(headerContentTypeOption, "nosniff")
	if c.Request().Method == http.MethodHead {
		return c.NoContent(status)
	}
	return c.JSON(status, env)
}
