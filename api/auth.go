package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/cspm-es/cspm-es/domain/access"
)

// Authenticator checks the bearer token of a request. An unknown, revoked
// or malformed token is an error wrapping access.ErrUnauthenticated; any
// other error means the check itself could not run (503).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (access.Principal, error)
}

// AuthenticatorFunc adapts a function into an Authenticator.
type AuthenticatorFunc func(ctx context.Context, token string) (access.Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (access.Principal, error) {
	return f(ctx, token)
}

const ctxKeyPrincipal = "api.principal"

// forbiddenError: the key's role is below the route's.
type forbiddenError struct{ have, need access.Role }

func (e *forbiddenError) Error() string {
	return fmt.Sprintf("this route needs the %s role; the key has %s", e.need, e.have)
}

// rateLimitedError: the key spent its request budget; retry after wait.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string { return "rate limited" }

// unavailableError: a dependency the request needs is down.
type unavailableError struct {
	what string
	err  error
}

func (e *unavailableError) Error() string { return e.what + " is unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// guard is the middleware of one route: on a route that is not public it
// authenticates the bearer key, checks the key's role against the
// route's and spends one request of the key's rate budget, in that order.
func (s *Server) guard(r Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if r.Public {
			return next
		}
		return func(c echo.Context) error {
			token, err := bearerToken(c.Request())
			if err != nil {
				return err
			}
			p, err := s.deps.Auth.Authenticate(c.Request().Context(), token)
			switch {
			case errors.Is(err, access.ErrUnauthenticated):
				return errUnauthenticated
			case err != nil:
				return &unavailableError{what: "authentication", err: err}
			}
			c.Set(ctxKeyPrincipal, p)
			if !p.Role.Allows(r.Role) {
				return &forbiddenError{have: p.Role, need: r.Role}
			}
			if wait, ok := s.limiter.allow(p.KeyID); !ok {
				return &rateLimitedError{wait: wait}
			}
			return next(c)
		}
	}
}

// errUnauthenticated is every authentication failure: no header, another
// scheme, a malformed, unknown or revoked key all answer alike.
var errUnauthenticated = &requestError{status: http.StatusUnauthorized, body: ErrorBody{
	Code:    CodeUnauthenticated,
	Message: "a valid API key is required: send Authorization: Bearer <key>",
}}

// bearerToken reads Authorization: Bearer <token>.
func bearerToken(r *http.Request) (string, error) {
	hs := r.Header.Values(echo.HeaderAuthorization)
	if len(hs) != 1 {
		return "", errUnauthenticated
	}
	scheme, token, ok := strings.Cut(hs[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errUnauthenticated
	}
	return token, nil
}

// keyLimiter is a token bucket per API key: Rate requests per second on
// average, bursts of Burst. Buckets idle long enough to be full again are
// dropped, so the map stays as small as the set of active keys.
type keyLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	if perSecond <= 0 {
		return nil // unlimited
	}
	return &keyLimiter{limit: rate.Limit(perSecond), burst: max(1, burst), buckets: map[string]*rate.Limiter{}}
}

// allow spends one request of key's budget, or says how long until one
// is available.
func (l *keyLimiter) allow(key string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) { // full: same as a new bucket
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return 0, true
	}
	missing := 1 - b.TokensAt(now)
	return time.Duration(missing / float64(l.limit) * float64(time.Second)), false
}

// retryAfterSeconds is the Retry-After value for wait: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}
