package queries

import (
	"fmt"

	"github.com/cspm-es/cspm-es/domain"
)

// ErrNotFound: the resource does not exist for the caller's team (HTTP 404),
// which includes every resource of another team. errors.Is(err,
// domain.ErrNotFound) holds too.
var ErrNotFound = fmt.Errorf("queries: %w", domain.ErrNotFound)

// NotFound is ErrNotFound about the what (a scan, a stream) named id.
func NotFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, ErrNotFound) }
