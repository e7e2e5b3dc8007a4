package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

// A dependency that is down answers 503 UNAVAILABLE with Retry-After,
// on the command side (the event store) and the query side (read models).
func TestComponentStoreDownIs503(t *testing.T) {
	t.Parallel()
	c := newComponent(t)
	require.NoError(t, c.store.Close())
	for _, r := range []request{
		{Path: "/api/v1/scans", Body: `{"scan_id": "s-1", "account_id": "123456789012", "provider": "aws", "tool": "prowler"}`},
		{Path: "/api/v1/scans/s-1/start"},
	} {
		res := c.send(t, r)
		require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s: %s", r.Path, res.Raw)
		assert.Equal(t, api.CodeUnavailable, res.Env.Error.Code)
		assert.Equal(t, "1", res.Header.Get("Retry-After"))
	}
}

func TestReadModelDownIs503(t *testing.T) {
	t.Parallel()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "rm.sqlite"), sqlitestore.Options{})
	require.NoError(t, err)
	require.NoError(t, store.Close())
	_, err = store.Get(context.Background(), "scan_runs", "s-1")
	require.ErrorIs(t, err, readmodel.ErrUnavailable)

	r := fullEnv(t)
	r.queries.err = err
	res := r.get(t, "/api/v1/scans")
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	assert.Equal(t, api.CodeUnavailable, res.Env.Error.Code)
}
