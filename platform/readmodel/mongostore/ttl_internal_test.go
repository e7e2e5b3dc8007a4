package mongostore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// serverTTL is what EnsureCollection builds and compares a TTL index
// with: the override (a keep override as MaxTTL), else the declared TTL.
func TestServerTTL(t *testing.T) {
	const day = 24 * time.Hour
	ix := readmodel.Index{Name: "expire_ended", Fields: []readmodel.IndexField{{Path: "ended_at"}}, TTL: 180 * day}
	key := readmodel.TTLKey{Collection: "scan_jobs", Index: "expire_ended"}
	require.Equal(t, 180*day, serverTTL(nil, "scan_jobs", ix))
	require.Equal(t, 30*day, serverTTL(map[readmodel.TTLKey]time.Duration{key: 30 * day}, "scan_jobs__rebuild", ix))
	require.Equal(t, readmodel.MaxTTL, serverTTL(map[readmodel.TTLKey]time.Duration{key: 0}, "scan_jobs", ix))

	over := ix
	over.TTL = serverTTL(map[readmodel.TTLKey]time.Duration{key: 30 * day}, "scan_jobs", ix)
	secs := float64(30 * day / time.Second)
	have := serverIndex{Name: ix.Name, Key: indexKeys(ix), ExpireAfterSeconds: &secs}
	require.True(t, sameIndex(have, over, true), "an index changed by collMod is the overridden declaration: not recreated")
	require.False(t, sameIndex(have, ix, true), "without the override it would be recreated with the declared TTL")
}
