package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
)

// A module database removed under the running projections: the live
// loops of its projections stop and say how to repair it (the other
// database goes on); rebuilding one of them recreates the database and
// rebuilds both projections that live in it, which then follow the
// stream again.
func TestRebuildRepairsAMissingDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := pt.NewEnv(t, pt.EnvOptions{Databases: []dbregistry.Constant{dbregistry.PLATFORM, dbregistry.ORCHESTRATION}})
	counter := pt.NewCounter(counterName, dbregistry.PLATFORM)
	ledger := pt.NewLedger("test.ledger", dbregistry.PLATFORM)
	other := pt.NewCounter("test.other", dbregistry.ORCHESTRATION)
	rt := startRuntime(t, env, counter, ledger, other)
	require.NoError(t, workload(env, 1, "before", 5, 40))
	waitFor(t, rt, env.Head(t))

	path := filepath.Join(env.Dir, "platform.sqlite")
	require.NoError(t, os.Remove(path))
	require.NoError(t, workload(env, 2, "during", 5, 20))
	head := env.Head(t)
	waitFor(t, rt, head, "test.other") // the other database is not affected
	require.Eventually(t, func() bool {
		return strings.Contains(status(t, rt, counterName).NeedsRebuild, "`cspm projections rebuild "+counterName+"`")
	}, 20*time.Second, 10*time.Millisecond, "the live loop says how to repair: %+v", status(t, rt, counterName))
	st := status(t, rt, counterName)
	assert.Contains(t, st.NeedsRebuild, path+" no longer exists")
	assert.Equal(t, projections.StateFailing, st.State)

	require.NoError(t, rt.Rebuild(ctx, counterName, nil))
	_, err := os.Stat(path)
	require.NoError(t, err, "recreated")
	waitFor(t, rt, head, counterName, "test.ledger")
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger), "the other projection of the database was rebuilt too")
	for _, name := range []string{counterName, "test.ledger"} {
		st := status(t, rt, name)
		assert.Empty(t, st.NeedsRebuild, name)
		assert.Equal(t, projections.StateRunning, st.State, name)
	}

	// The live loops follow the stream again.
	require.NoError(t, workload(env, 3, "after", 5, 20))
	waitFor(t, rt, env.Head(t))
	assert.Equal(t, expected(t, env, counter, nil), dump(t, env, counter))
	assert.Equal(t, expected(t, env, ledger, nil), dump(t, env, ledger))
	assert.Equal(t, expected(t, env, other, nil), dump(t, env, other))
}
