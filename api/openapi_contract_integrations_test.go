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

// integrationsContract: admins create and change, viewers read (an
// analyst's create is 403); a config key naming a secret is 400; no answer
// holds the secret; another team's integration or wizard is 404; a wizard
// resumes, completes into an integration; every answer matches the
// document.
func integrationsContract(t *testing.T, c *contract) {
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	body := exampleBody(t, c.doc, "createIntegration")
	c.send(t, request{Path: "/api/v1/integrations", Body: body, Header: analyst}, 403, docValid)
	created := c.send(t, request{Path: "/api/v1/integrations", Body: body}, 201, docValid)
	var res api.CommandResult
	require.NoError(t, json.Unmarshal(created.Data, &res))
	id := res.ID
	bad := c.send(t, request{Path: "/api/v1/integrations", Body: `{"name": "x", "kind": "chat", "config": {"api_token": "t"}}`}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"config.api_token"`)
	bad = c.send(t, request{Path: "/api/v1/integrations", Body: `{"name": "x", "kind": "webhook", "config": {"url": "https://h.example"}, "event_kinds": ["scan_run_failed"]}`}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"secret"`)
	c.send(t, request{Method: "PUT", Path: "/api/v1/integrations/" + id, Body: exampleBody(t, c.doc, "changeIntegration")}, 202, docValid)
	checked := c.send(t, request{Path: "/api/v1/integrations/" + id + "/check"}, 202, docValid)
	pos := strconv.FormatInt(checked.Env.Meta.Position, 10)

	list := c.get(t, "/api/v1/integrations?kind=webhook&min_position="+pos, 200, docValid, "Authorization", viewer["Authorization"])
	assert.Contains(t, string(list.Data), `"has_secret":true`)
	assert.NotContains(t, string(list.Raw), "a-long-random-signing-secret")
	got := c.get(t, "/api/v1/integrations/"+id, 200, docValid, "Authorization", viewer["Authorization"])
	assert.Contains(t, string(got.Data), `"state":"up"`)
	c.get(t, "/api/v1/integrations/"+id, 404, docValid, "Authorization", viewerB["Authorization"])
	h := c.get(t, "/api/v1/integrations/"+id+"/health", 200, docValid, "Authorization", viewer["Authorization"])
	assert.Contains(t, string(h.Data), `"uptime":1`)
	c.get(t, "/api/v1/integrations/"+id+"/health?from=yesterday", 400, docEither)
	c.get(t, "/api/v1/integrations/"+id+"/deliveries?status=delivered", 200, docValid, "Authorization", viewer["Authorization"])
	c.get(t, "/api/v1/integrations/"+id+"/deliveries?status=lost", 400, docEither)
	c.send(t, request{Method: "DELETE", Path: "/api/v1/integrations/" + id}, 202, docValid)
	again := c.send(t, request{Method: "DELETE", Path: "/api/v1/integrations/" + id}, 422, docValid)
	assert.Equal(t, "INTEGRATION_REMOVED", again.Env.Error.Code)

	// A wizard: started, resumed, its steps saved, completed.
	started := c.send(t, request{Path: "/api/v1/integration-wizards", Body: exampleBody(t, c.doc, "startIntegrationWizard")}, 201, docValid)
	require.NoError(t, json.Unmarshal(started.Data, &res))
	wiz := res.ID
	incomplete := c.send(t, request{Path: "/api/v1/integration-wizards/" + wiz + "/complete", Body: `{"secret": "a-long-random-signing-secret"}`}, 422, docValid)
	assert.Equal(t, "WIZARD_INCOMPLETE", incomplete.Env.Error.Code)
	c.send(t, request{Method: "PUT", Path: "/api/v1/integration-wizards/" + wiz + "/steps/basics", Body: `{"data": {"name": "from the wizard"}}`}, 202, docValid)
	c.send(t, request{Method: "PUT", Path: "/api/v1/integration-wizards/" + wiz + "/steps/nope", Body: `{"data": {}}`}, 400, docEither)
	c.send(t, request{Method: "PUT", Path: "/api/v1/integration-wizards/" + wiz + "/steps/endpoint", Body: `{"data": {"secret": "x"}}`}, 400, docEither)
	saved := c.send(t, request{Method: "PUT", Path: "/api/v1/integration-wizards/" + wiz + "/steps/endpoint", Body: exampleBody(t, c.doc, "saveIntegrationWizardStep")}, 202, docValid)
	resumed := c.get(t, "/api/v1/integration-wizards/"+wiz+"?min_position="+strconv.FormatInt(saved.Env.Meta.Position, 10), 200, docValid, "Authorization", viewer["Authorization"])
	assert.Contains(t, string(resumed.Data), `"next_step":"events"`)
	c.get(t, "/api/v1/integration-wizards/"+wiz, 404, docValid, "Authorization", viewerB["Authorization"])
	c.send(t, request{Method: "PUT", Path: "/api/v1/integration-wizards/" + wiz + "/steps/events", Body: `{"data": {"kinds": "sla_breached, kev_occurrence_flagged"}}`}, 202, docValid)
	done := c.send(t, request{Path: "/api/v1/integration-wizards/" + wiz + "/complete", Body: exampleBody(t, c.doc, "completeIntegrationWizard")}, 201, docValid)
	require.NoError(t, json.Unmarshal(done.Data, &res))
	assert.Equal(t, wiz, res.ID, "the integration takes the session's id")
	fromWizard := c.get(t, "/api/v1/integrations/"+wiz+"?min_position="+strconv.FormatInt(done.Env.Meta.Position, 10), 200, docValid)
	assert.Contains(t, string(fromWizard.Data), `"event_kinds":["kev_occurrence_flagged","sla_breached"]`)
	ended := c.send(t, request{Path: "/api/v1/integration-wizards/" + wiz + "/complete", Body: exampleBody(t, c.doc, "completeIntegrationWizard")}, 422, docValid)
	assert.Equal(t, "WIZARD_COMPLETED", ended.Env.Error.Code)
}
