package sqlitebench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/eventstore/sqlite/sqlitebench"
	"github.com/cspm-es/cspm-es/platform/sqlitedb"
)

// The ceiling inserts the sampled rows again, each under a new position,
// event id and stream: the raw file then holds exactly the events written,
// with the sampled rows' data and types.
func TestCeilingInsertsTheSampledRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	for i := range 3 {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: fmt.Sprintf("finding-%d", i), StreamType: "Finding",
			Expected: eventstore.NoStream, Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "t"},
			Events: []eventstore.NewEvent{{Type: "FindingRaised", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}})
		require.NoError(t, err)
	}
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: "scan-1", StreamType: "ScanRun", Expected: eventstore.NoStream,
		Metadata: eventstore.Metadata{TeamID: "team-a", Actor: "t"},
		Events:   []eventstore.NewEvent{{Type: "ScanRequested", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	rows, err := sqlitebench.Sample(ctx, filepath.Join(dir, "events.sqlite"), "FindingRaised", 2)
	require.NoError(t, err)
	require.Equal(t, 2, rows.Len())
	require.Positive(t, rows.Bytes())
	_, err = sqlitebench.Sample(ctx, filepath.Join(dir, "events.sqlite"), "FindingRaised", 4)
	require.ErrorContains(t, err, "holds 3 events of type FindingRaised, want 4")

	raw := filepath.Join(dir, "raw.sqlite")
	c, err := sqlitebench.OpenCeiling(ctx, raw, "", rows, 10)
	require.NoError(t, err)
	n, took, err := c.Run(ctx, 1) // at least one batch
	require.NoError(t, err)
	require.Equal(t, 10, n)
	require.Positive(t, took)
	require.NoError(t, c.Close())

	pools, err := sqlitedb.OpenReadOnly(ctx, raw, sqlitedb.Config{})
	require.NoError(t, err)
	defer pools.Close()
	var count, streams, maxPos int64
	var data string
	require.NoError(t, pools.Read.QueryRowContext(ctx,
		"SELECT count(*), count(DISTINCT stream_id), max(position) FROM events WHERE type = 'FindingRaised'").Scan(&count, &streams, &maxPos))
	require.Equal(t, []int64{10, 10, 10}, []int64{count, streams, maxPos})
	require.NoError(t, pools.Read.QueryRowContext(ctx, "SELECT data FROM events WHERE position = 2").Scan(&data))
	require.JSONEq(t, `{"n":2}`, data) // the second sampled row (positions 2 and 3 were sampled)
}
