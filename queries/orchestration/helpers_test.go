package orchestration_test

import (
	"testing"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries/orchestration"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// env is the module databases seeded with events (queriestest.Env), and
// the scan queries over them.
type env struct {
	*qt.Env
	svc *orchestration.Service
}

func newEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	e := qt.NewEnv(t, events)
	return &env{Env: e, svc: orchestration.New(orchestration.Stores{Orchestration: e.Stores[dbregistry.ORCHESTRATION]})}
}
