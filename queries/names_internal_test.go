package queries

import (
	"testing"

	"github.com/stretchr/testify/assert"

	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
)

// TestNamesMatchTheProjections: the queries spell the collections and keys
// the projections write.
func TestNamesMatchTheProjections(t *testing.T) {
	t.Parallel()
	assert.Equal(t, orchestrationproj.ScanRunsCollection, scanRunsCollection)
	assert.Equal(t, orchestrationproj.ScanSummariesCollection, scanSummariesCollection)
	assert.Equal(t, cloudsecurityproj.FindingsCollection, findingsCollection)
	assert.Equal(t, platformproj.DashboardCollection, dashboardCollection)
	for _, team := range []string{"default", "a/b", "ü ?%"} {
		assert.Equal(t, orchestrationproj.Key(team, "s1"), teamKey(team, "s1"))
		assert.Equal(t, platformproj.Key(team, "s1"), teamKey(team, "s1"))
	}
}
