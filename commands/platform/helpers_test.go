package platform_test

import (
	"testing"

	"github.com/cspm-es/cspm-es/commands"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/platform"
)

// deps are the handlers under test on a real SQLite store of their own
// (commandstest.Deps: the store, codec, clock, kit and scan commands).
type deps struct {
	*ct.Deps
	h *platform.Handlers
}

func newDeps(t *testing.T) *deps {
	t.Helper()
	d := ct.New(t)
	return &deps{Deps: d, h: platform.New(d.Kit)}
}

// with returns handlers over store (a wrapper of d.Store) sharing d's codec and clock.
func (d *deps) with(store commands.EventStore) *platform.Handlers {
	return platform.New(d.KitOver(store))
}
