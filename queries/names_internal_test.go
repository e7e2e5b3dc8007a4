package queries

import (
	"testing"

	"github.com/stretchr/testify/assert"

	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
)

// TestNamesMatchTheProjections: the queries spell the keys the projections
// write (each module's queries check their collections' names).
func TestNamesMatchTheProjections(t *testing.T) {
	t.Parallel()
	for _, team := range []string{"default", "a/b", "ü ?%"} {
		assert.Equal(t, orchestrationproj.Key(team, "s1"), TeamKey(team, "s1"))
		assert.Equal(t, platformproj.Key(team, "s1"), TeamKey(team, "s1"))
	}
}
