package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Keys of values middleware stores on the echo context.
const (
	ctxKeyRequestID     = "api.request_id"
	ctxKeyCorrelationID = "api.correlation_id"
	ctxKeyLogger        = "api.logger"
	ctxKeyErrorCode     = "api.error_code"
)

// maxTraceIDLen bounds incoming X-Request-ID and X-Correlation-ID values;
// longer or non-printable ones are replaced, never trusted.
const maxTraceIDLen = 128

// requestIDMiddleware gives every request an id: the incoming X-Request-ID
// when it is sane, a new UUIDv7 otherwise. The id is echoed back, put on
// every log line of the request and, unless the caller sent its own
// X-Correlation-ID, used as the correlation id of the commands it runs.
func (s *Server) requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(HeaderRequestID)
		if !isTraceID(id) {
			id = newID()
		}
		corr := req.Header.Get(HeaderCorrelationID)
		if !isTraceID(corr) {
			corr = id
		}
		c.Set(ctxKeyRequestID, id)
		c.Set(ctxKeyCorrelationID, corr)
		c.Set(ctxKeyLogger, s.logger.With(slog.String("request_id", id)))
		h := c.Response().Header()
		h.Set(HeaderRequestID, id)
		h.Set(HeaderCorrelationID, corr)
		return next(c)
	}
}

func isTraceID(s string) bool {
	return s != "" && len(s) <= maxTraceIDLen && isPrintableASCII(s)
}

func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxKeyRequestID).(string)
	return id
}

func correlationID(c echo.Context) string {
	id, _ := c.Get(ctxKeyCorrelationID).(string)
	return id
}

// requestLogger is the server's logger with the request id attached.
func (s *Server) requestLogger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(ctxKeyLogger).(*slog.Logger); ok {
		return l
	}
	return s.logger
}

// observeMiddleware turns a returned error into its response (through the
// HTTPErrorHandler) so that it can then log and count the final status.
// It logs method, route template, status, duration and request id; never
// bodies, query strings or headers.
func (s *Server) observeMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		req := c.Request()
		status := c.Response().Status
		route := s.routeLabel(req.Method, c.Path())
		s.metrics.observe(req.Method, route, status, elapsed)

		level := slog.LevelInfo
		switch {
		case s.quietRoutes[route]:
			level = slog.LevelDebug
		case status >= 500:
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
		}
		if code, ok := c.Get(ctxKeyErrorCode).(string); ok {
			attrs = append(attrs, slog.String("error_code", code))
		}
		if corr := correlationID(c); corr != requestID(c) {
			attrs = append(attrs, slog.String("correlation_id", corr))
		}
		s.requestLogger(c).LogAttrs(req.Context(), level, "http request", attrs...)
		return nil
	}
}

// routeLabel is the route template for logs and metrics, or "unmatched"
// for requests no route took (so clients cannot grow label cardinality).
func (s *Server) routeLabel(method, path string) string {
	if s.routes[method+" "+path] {
		return path
	}
	return "unmatched"
}

// panicError is a recovered panic; the error handler logs it with its stack.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// recoverMiddleware turns a panic into an error, hence a 500 envelope.
// http.ErrAbortHandler keeps its meaning: abort the response.
func recoverMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			err = &panicError{value: r, stack: debug.Stack()}
		}()
		return next(c)
	}
}

// timeoutMiddleware bounds the request's context. Handlers pass that
// context down, so storage calls give up at the deadline (→ 504).
func (s *Server) timeoutMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := s.cfg.RequestTimeout
		if long, ok := s.longRoutes[c.Request().Method+" "+c.Path()]; ok {
			d = long
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), d)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}
