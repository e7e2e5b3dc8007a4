// Package mongodb holds what every MongoDB adapter of cspm shares (the
// event store and the module read-model stores), as platform/sqlitedb
// does for SQLite.
package mongodb

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Unavailable reports whether err means the deployment could not be
// reached, rather than that the operation was wrong: a network error, a
// timeout of the driver's own (server selection included; not the
// caller's deadline or cancellation) or a disconnected client. Callers
// wrap such errors with their port's ErrUnavailable (the API answers 503).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	return mongo.IsNetworkError(err) || errors.Is(err, mongo.ErrClientDisconnected) ||
		(mongo.IsTimeout(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled))
}
