package api_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
)

// slaContract: the policy set by an admin (an analyst's is 403), read by
// a viewer; another team keeps the default; breaches and summary answer;
// a bad policy or filter is 400 naming the field.
func slaContract(t *testing.T, c *contract) {
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	body := exampleBody(t, c.doc, "setSLAPolicy")
	c.send(t, request{Method: "PUT", Path: "/api/v1/sla/policy", Body: body, Header: analyst}, 403, docValid)
	set := c.send(t, request{Method: "PUT", Path: "/api/v1/sla/policy", Body: body}, 202, docValid)
	var res api.CommandResult
	require.NoError(t, json.Unmarshal(set.Data, &res))
	bad := c.send(t, request{Method: "PUT", Path: "/api/v1/sla/policy", Body: `{"days": {"critical": 0}}`}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"days.critical"`)
	c.send(t, request{Method: "PUT", Path: "/api/v1/sla/policy", Body: `{"days": {}, "modules": {"nope": {}}}`}, 400, docEither)

	got := c.send(t, request{Method: "GET", Path: "/api/v1/sla/policy?min_position=" + strconv.FormatInt(res.Position, 10), Header: viewer}, 200, docValid)
	assert.Contains(t, string(got.Data), `"default":false`)
	assert.Contains(t, string(got.Data), `"cloud_findings":{"critical":3`)
	other := c.send(t, request{Method: "GET", Path: "/api/v1/sla/policy", Header: viewerB}, 200, docValid)
	assert.Contains(t, string(other.Data), `"default":true`)

	c.send(t, request{Method: "GET", Path: "/api/v1/sla/breaches?module=vulnerabilities&severity=high&kev=true&limit=10", Header: viewer}, 200, docValid)
	c.send(t, request{Method: "GET", Path: "/api/v1/sla/breaches?module=nope"}, 400, docEither)
	sum := c.send(t, request{Method: "GET", Path: "/api/v1/sla/summary", Header: viewerB}, 200, docValid)
	assert.Contains(t, string(sum.Data), `"total":{"open":0`)
}
