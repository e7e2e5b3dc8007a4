package platform

import (
	"testing"

	"github.com/stretchr/testify/assert"

	platformproj "github.com/cspm-es/cspm-es/projections/platform"
)

// The API keys query reads the collection the projection writes.
func TestAPIKeysCollectionMatchesTheProjection(t *testing.T) {
	t.Parallel()
	assert.Equal(t, platformproj.APIKeysCollection, apiKeysCollection)
}

// TestNamesMatchTheProjections: the dashboard query reads the collection
// the projection writes.
func TestNamesMatchTheProjections(t *testing.T) {
	t.Parallel()
	assert.Equal(t, platformproj.DashboardCollection, dashboardCollection)
	assert.Equal(t, platformproj.DashboardVulnerabilitiesCollection, dashboardVulnCollection)
	assert.Equal(t, platformproj.DashboardVulnerableImagesCollection, dashboardImagesCollection)
	assert.Equal(t, platformproj.DashboardSLASummaryCollection, dashboardSLASummCollection)
	assert.Equal(t, platformproj.TopImages, TopImages)
	assert.Equal(t, platformproj.DashboardScanEngineCollection, dashboardScanEngineCollection)
	assert.Equal(t, platformproj.DashboardScanJobsCollection, dashboardScanJobsCollection)
	assert.Equal(t, platformproj.DashboardCertificatesCollection, dashboardCertsCollection)
}
