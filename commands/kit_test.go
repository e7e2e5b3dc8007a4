package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/commands/orchestration"
	"github.com/cspm-es/cspm-es/commands/platform"
)

func TestNewPanicsOnNilDependencies(t *testing.T) {
	t.Parallel()
	d := ct.New(t)
	assert.Panics(t, func() { commands.NewKit(nil, d.Codec, d.Clock.Now) })
	assert.Panics(t, func() { commands.NewKit(d.Store, nil, d.Clock.Now) })
	assert.Panics(t, func() { commands.NewKit(d.Store, d.Codec, nil) })
	assert.Panics(t, func() { orchestration.New(nil) })
	assert.Panics(t, func() { cloudsecurity.New(nil) })
	assert.Panics(t, func() { platform.New(nil) })
}
