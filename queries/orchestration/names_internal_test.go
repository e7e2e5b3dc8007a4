package orchestration

import (
	"testing"

	"github.com/stretchr/testify/assert"

	orchestrationproj "github.com/cspm-es/cspm-es/projections/orchestration"
)

// TestNamesMatchTheProjections: the queries spell the collections the
// projections write.
func TestNamesMatchTheProjections(t *testing.T) {
	t.Parallel()
	assert.Equal(t, orchestrationproj.ScanRunsCollection, scanRunsCollection)
	assert.Equal(t, orchestrationproj.ScanSummariesCollection, scanSummariesCollection)
	assert.Equal(t, orchestrationproj.ScanDeltasCollection, scanDeltasCollection)
	assert.Equal(t, orchestrationproj.ScanDeltaCountsCollection, scanDeltaCountsCollection)
}
