package queries

import (
	"context"
	"errors"
	"net/url"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// DocGetter reads one document by _id (a subset of readmodel.Store).
type DocGetter interface {
	Get(ctx context.Context, collection, id string) (readmodel.Doc, error)
}

// DocFinder reads one page of documents (a subset of readmodel.Store).
type DocFinder interface {
	Find(ctx context.Context, collection string, opts readmodel.FindOptions) (readmodel.Page, error)
}

// DocReader is DocGetter and DocFinder.
type DocReader interface {
	DocGetter
	DocFinder
}

// ErrNoTeam: a query was called without the caller's team, a wiring
// mistake (the team comes from credentials, never from input).
var ErrNoTeam = errors.New("queries: no team")

// TeamKey is the _id of one team's document about id in a cross-stream
// read model (scan_summaries), as the projections build it.
func TeamKey(team, id string) string { return url.PathEscape(team) + "/" + id }
