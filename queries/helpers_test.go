package queries_test

import (
	"testing"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// env is the module databases (queriestest.Env) with every module's
// queries over them: the benchmarks and the on-the-fly baseline compare
// the modules' read models with answers computed across databases.
type env struct {
	*qt.Env
	scans     *orchquery.Service
	findings  *csquery.Service
	dashboard *platformquery.Service
}

// envOver is every module's queries over e.
func envOver(e *qt.Env) *env {
	return &env{
		Env:       e,
		scans:     orchquery.New(orchquery.Stores{Orchestration: e.Stores[dbregistry.ORCHESTRATION]}),
		findings:  csquery.New(csquery.Stores{CloudSecurity: e.Stores[dbregistry.CLOUD_SECURITY]}),
		dashboard: platformquery.New(platformquery.Stores{Platform: e.Stores[dbregistry.PLATFORM]}),
	}
}

func newEnv(t *testing.T, events []projections.Event) *env {
	t.Helper()
	return envOver(qt.NewEnv(t, events))
}
