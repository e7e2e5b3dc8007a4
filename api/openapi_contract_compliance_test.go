package api_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// complianceContract sends the compliance routes through the contract
// (called by TestOpenAPIContract once team-a imported the before/after
// CloudTrail pair: scans scan1 then scan2 of account 111122223333, whose
// checks map to CIS-5.0 3.1).
func complianceContract(t *testing.T, c *contract, pos, scan1, scan2 string) {
	t.Helper()
	const acct = "111122223333"
	ov := data[csquery.ComplianceOverview](t, c.get(t, "/api/v1/compliance?min_position="+pos, 200, docValid))
	require.NotEmpty(t, ov.Frameworks)
	assert.NotEmpty(t, ov.Formula)
	c.get(t, "/api/v1/compliance?framework=CIS-5.0&limit=1", 200, docValid)
	c.get(t, "/api/v1/compliance?framework=", 400, docEither)
	c.get(t, "/api/v1/compliance?limit=0", 400, docInvalid)

	f := data[csquery.FrameworkCompliance](t, c.get(t, "/api/v1/compliance/CIS-5.0?account="+acct, 200, docValid))
	assert.Equal(t, "account", f.Scope)
	require.Len(t, f.Requirements, 1)
	assert.Equal(t, "fail", f.Requirements[0].Status, "scan 2 still fails 3.1 (kms encryption)")
	c.get(t, "/api/v1/compliance/CIS-5.0", 200, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0?scan_id="+scan1, 200, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0?account="+acct+"&as_of=2030-01-01T00:00:00Z", 200, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0?account="+acct+"&as_of=2000-01-01T00:00:00Z", 404, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0?as_of=2030-01-01T00:00:00Z", 400, docEither)
	c.get(t, "/api/v1/compliance/CIS-5.0?account="+acct+"&as_of=yesterday", 400, docInvalid)
	c.get(t, "/api/v1/compliance/NO-SUCH-FRAMEWORK", 404, docValid)

	ch := c.get(t, "/api/v1/compliance/CIS-5.0/changes?from="+scan1+"&to="+scan2, 200, docValid)
	var changes csquery.ComplianceChanges
	require.NoError(t, json.Unmarshal(ch.Data, &changes))
	require.NotNil(t, changes.From)
	c.get(t, "/api/v1/compliance/CIS-5.0/changes?account="+acct, 200, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0/changes?from="+scan1+"&to="+scan2+"&requirement=3.1&limit=2", 200, docValid)
	c.get(t, "/api/v1/compliance/CIS-5.0/changes", 400, docEither)
	c.get(t, "/api/v1/compliance/NO-SUCH-FRAMEWORK/changes", 404, docValid)
}
