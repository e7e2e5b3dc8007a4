package cloudassets

import (
	"testing"

	"github.com/stretchr/testify/assert"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	cloudassetsproj "github.com/cspm-es/cspm-es/projections/cloudassets"
)

// TestNamesMatchTheProjection: the queries spell what the projection writes.
func TestNamesMatchTheProjection(t *testing.T) {
	t.Parallel()
	assert.Equal(t, cloudassetsproj.AssetsCollection, assetsCollection)
	assert.Equal(t, cloudassetsproj.FindingsCollection, findingsCollection)
	assert.Equal(t, cloudassetsproj.DetailsCollection, detailsCollection)
	assert.Equal(t, csdomain.LifecycleOpen, openStatus)
	assert.Equal(t, []string{cadomain.StatusPresent, cadomain.StatusRemoved}, assetStatuses)
}
