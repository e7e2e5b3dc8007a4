package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// TestServeAudit: `cspm serve` serves the audit routes; the audit log is
// projected live (read your writes through min_position), the stream
// views and verify read the event store.
func TestServeAudit(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	a.newScan(t, "audit-1")
	must(t, a.post(t, "/api/v1/scans/audit-1/start", nil), http.StatusAccepted)
	pos := a.raise(t, "audit-1", "high", "low")

	ans := must(t, a.get(t, fmt.Sprintf("/api/v1/audit/log?min_position=%d", pos)), http.StatusOK)
	require.NotNil(t, ans.env.Meta.Stale)
	assert.False(t, *ans.env.Meta.Stale)
	var log []platformquery.AuditEntry
	ans.data(t, &log)
	var routes []string
	for _, e := range log {
		routes = append(routes, e.Route)
	}
	require.GreaterOrEqual(t, len(log), 3, "%s", ans.raw)
	assert.Equal(t, []string{"POST /api/v1/scans/:id/findings", "POST /api/v1/scans/:id/start", "POST /api/v1/scans"}, routes[:3])
	assert.Equal(t, pos, log[0].Position)
	assert.Equal(t, int64(2), log[0].EventCount)

	var events []eventstore.RecordedEvent
	must(t, a.get(t, "/api/v1/audit/streams/scan-audit-1/events"), http.StatusOK).data(t, &events)
	require.Len(t, events, 2)
	for _, e := range events {
		assert.Equal(t, eventstore.ComputeHash(e), e.Hash)
	}
	var st platformquery.StreamState
	must(t, a.get(t, "/api/v1/audit/streams/scan-audit-1/state?version=1"), http.StatusOK).data(t, &st)
	assert.Equal(t, int64(1), st.Version)

	var v platformquery.VerifyResult
	must(t, a.get(t, "/api/v1/audit/verify"), http.StatusOK).data(t, &v)
	assert.True(t, v.OK)
	assert.GreaterOrEqual(t, v.EventsChecked, pos)
}
