package api

import (
	"encoding/json"
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
	// Position, on a command answer, is the global event-store position
	// the command's events reached: pass it as min_position to read your
	// own writes. On a query answer it is the position through which the
	// projections the query read had processed the event stream (always
	// present there).
	Position int64 `json:"position,omitempty"`
	// NextCursor continues a list: pass it as cursor for the next page.
	// Lists always carry it, null on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Stale is set on query answers: true when the query was given a
	// min_position its projections had not reached within the wait bound,
	// so the data may miss those writes.
	Stale bool `json:"stale,omitempty"`

	kind metaKind
}

// metaKind selects which keys a Meta always renders.
type metaKind uint8

const (
	metaPlain metaKind = iota // omit what is empty
	metaRead                  // a query answer: position and stale always
	metaList                  // a list: next_cursor too (null on the last page)
)

// MarshalJSON renders the keys of the answer's kind.
func (m Meta) MarshalJSON() ([]byte, error) {
	switch m.kind {
	case metaRead:
		return json.Marshal(struct {
			RequestID string `json:"request_id,omitempty"`
			Position  int64  `json:"position"`
			Stale     bool   `json:"stale"`
		}{m.RequestID, m.Position, m.Stale})
	case metaList:
		var next *string
		if m.NextCursor != "" {
			next = &m.NextCursor
		}
		return json.Marshal(struct {
			RequestID  string  `json:"request_id,omitempty"`
			Position   int64   `json:"position"`
			Stale      bool    `json:"stale"`
			NextCursor *string `json:"next_cursor"`
		}{m.RequestID, m.Position, m.Stale, next})
	}
	type plain Meta // without this method
	return json.Marshal(plain(m))
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
	InQuery  = "query"
)

// Headers this package reads or sets.
const (
	HeaderRequestID         = "X-Request-ID"
	HeaderCorrelationID     = "X-Correlation-ID"
	HeaderIdempotencyKey    = "Idempotency-Key"
	HeaderIdempotentReplay  = "Idempotent-Replayed"
	HeaderMinPosition       = "X-Min-Position"
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
