package cloudsecurity_test

import (
	"testing"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// env is the module databases seeded with events (queriestest.Env), and
// the findings queries over them.
type env struct {
	*qt.Env
	svc *cloudsecurity.Service
}

func newEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	e := qt.NewEnv(t, events)
	return &env{Env: e, svc: cloudsecurity.New(cloudsecurity.Stores{CloudSecurity: e.Stores[dbregistry.CLOUD_SECURITY]})}
}
