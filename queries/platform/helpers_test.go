package platform_test

import (
	"testing"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// env is the module databases seeded with events (queriestest.Env), and
// the platform queries over them.
type env struct {
	*qt.Env
	svc *platform.Service
}

func newEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	return envOver(qt.NewEnv(t, events))
}

// envOver is the platform queries over e.
func envOver(e *qt.Env) *env {
	return &env{Env: e, svc: platform.New(platform.Stores{Platform: e.Stores[dbregistry.PLATFORM]})}
}
