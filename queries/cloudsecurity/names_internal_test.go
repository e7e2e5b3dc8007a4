package cloudsecurity

import (
	"testing"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	cloudsecurityproj "github.com/cspm-es/cspm-es/projections/cloudsecurity"
)

// TestNamesMatchTheProjections: the queries spell the collection the
// projection writes.
func TestNamesMatchTheProjections(t *testing.T) {
	t.Parallel()
	assert.Equal(t, cloudsecurityproj.FindingsCollection, findingsCollection)
	assert.Equal(t, cloudsecurityproj.ImportsCollection, importsCollection)
	assert.Equal(t, cloudsecurityproj.MutingRulesCollection, mutingRulesCollection)
	assert.Equal(t, cloudsecurityproj.AccountsCollection, accountsCollection)
	assert.Equal(t, []string{csdomain.AccountActive, csdomain.AccountRetired}, accountStatuses)
	assert.Equal(t, cloudsecurityproj.SourceImport, sourceImport)
	assert.Equal(t, cloudsecurityproj.ComplianceScoresCollection, complianceScoresCollection)
	assert.Equal(t, cloudsecurityproj.ComplianceRequirementsCollection, complianceRequirementsCollection)
	assert.Equal(t, cloudsecurityproj.ComplianceFailingCollection, complianceFailingCollection)
	assert.Equal(t, cloudsecurityproj.ComplianceTeamCollection, complianceTeamCollection)
	assert.Equal(t, cloudsecurityproj.ComplianceOverviewCollection, complianceOverviewCollection)
	assert.Equal(t, []string{cloudsecurityproj.RuleActive, cloudsecurityproj.RuleRemoved, cloudsecurityproj.RuleExpired}, ruleStatuses)
}
