package queries

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// maxFilterLen bounds free-text filter values (ids, tool names).
	maxFilterLen = 256
)

// Page asks for one page of a list: Limit items (0: DefaultLimit) after
// Cursor, the NextCursor of the previous page ("" for the first). A cursor
// continues the list it came from: pass the same filter with it.
type Page struct {
	Limit  int
	Cursor string
}

// Check records a problem with the page's limit.
func (p Page) Check(v *domain.Validator) {
	v.Check(p.Limit >= 0 && p.Limit <= MaxLimit, "limit", "must be between 1 and %d (0 or absent: %d)", MaxLimit, DefaultLimit)
}

// Size is the number of items the page asks for: Limit, or DefaultLimit.
func (p Page) Size() int {
	if p.Limit == 0 {
		return DefaultLimit
	}
	return p.Limit
}

// CheckText records a problem with a free-text filter value.
func CheckText(v *domain.Validator, field, value string) {
	v.Check(len(value) <= maxFilterLen, field, "must be at most %d characters", maxFilterLen)
}

// Find runs one page of a list query. A cursor the store cannot use
// (malformed, or issued for another list) is a *domain.ValidationError
// naming "cursor".
func Find(ctx context.Context, store DocFinder, collection string, opts readmodel.FindOptions) (readmodel.Page, error) {
	if _, err := opts.Plan(); err != nil {
		if opts.Cursor != "" && errors.Is(err, readmodel.ErrInvalid) {
			var v domain.Validator
			v.Add("cursor", "is not a cursor of this list")
			return readmodel.Page{}, v.Err()
		}
		return readmodel.Page{}, fmt.Errorf("plan %s query: %w", collection, err)
	}
	page, err := store.Find(ctx, collection, opts)
	if err != nil {
		return readmodel.Page{}, fmt.Errorf("find %s: %w", collection, err)
	}
	return page, nil
}

// AppendEq adds Eq(path, value) unless value is empty.
func AppendEq(terms []readmodel.Filter, path, value string) []readmodel.Filter {
	if value == "" {
		return terms
	}
	return append(terms, readmodel.Eq(path, value))
}

// OneOf reports whether s is one of set.
func OneOf[S ~string](set []S, s string) bool {
	for _, x := range set {
		if string(x) == s {
			return true
		}
	}
	return false
}
