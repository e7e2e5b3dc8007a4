package api_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
)

// kevFeedBody is a KEV sample subset with its count set to its entries.
func kevFeedBody(t *testing.T, name string, entries int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "platform", "parsers", "kev", "testdata", name))
	require.NoError(t, err)
	return string(regexp.MustCompile(`"count": [0-9]+`).ReplaceAll(b, []byte(`"count": `+strconv.Itoa(entries))))
}

// kevContract: the KEV pair imported through POST /api/v1/imports (an
// admin key; an analyst's is 403), then read by a viewer of another team.
func kevContract(t *testing.T, c *contract) {
	analyst := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-a")}
	viewerB := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-b")}
	may22 := kevFeedBody(t, "known_exploited_vulnerabilities_2025.05.22_subset.json", 15)
	jun09 := kevFeedBody(t, "known_exploited_vulnerabilities_2025.06.09_subset.json", 23)
	c.send(t, request{Path: "/api/v1/imports?format=kev-json", Body: may22, ContentType: "application/json", Header: analyst}, 403, docValid)
	c.send(t, request{Path: "/api/v1/imports?format=kev-json", Body: may22, ContentType: "application/json"}, 202, docValid)
	second := c.send(t, request{Path: "/api/v1/imports?format=kev-json&file_name=kev.json", Body: jun09, ContentType: "application/json"}, 202, docValid)
	var res struct {
		Feed map[string]any `json:"feed"`
	}
	require.NoError(t, json.Unmarshal(second.Data, &res), string(second.Raw))
	assert.Equal(t, []any{9.0, 9.0, 1.0, 5.0}, []any{res.Feed["published"], res.Feed["updated"], res.Feed["withdrawn"], res.Feed["unchanged"]})
	again := c.send(t, request{Path: "/api/v1/imports?format=kev-json", Body: jun09, ContentType: "application/json"}, 202, docValid)
	assert.Contains(t, string(again.Data), `"status":"unchanged"`)
	c.send(t, request{Path: "/api/v1/imports?format=kev-json", Body: jun09[:len(jun09)/2], ContentType: "application/octet-stream"}, 422, docValid)
	c.send(t, request{Path: "/api/v1/imports?format=kev-json&force=maybe", Body: jun09, ContentType: "application/json"}, 400, docInvalid)

	list := c.send(t, request{Method: "GET", Path: "/api/v1/kev?limit=5", Header: viewerB}, 200, docValid)
	var entries []map[string]any
	require.NoError(t, json.Unmarshal(list.Data, &entries))
	assert.Len(t, entries, 5)
	c.send(t, request{Method: "GET", Path: "/api/v1/kev?ransomware=true&vendor=fortinet&since=2024-01-01", Header: viewerB}, 200, docValid)
	c.send(t, request{Method: "GET", Path: "/api/v1/kev?since=yesterday"}, 400, docInvalid)
	c.send(t, request{Method: "GET", Path: "/api/v1/kev/CVE-2025-4664?as_of=2000-01-01", Header: viewerB}, 200, docValid)
	c.send(t, request{Method: "GET", Path: "/api/v1/kev/CVE-1999-0001"}, 404, docValid)
}

// indicatorContract: an indicator created, read, listed by its value
// as another spelling, updated, observed, revoked; another team's is 404.
func indicatorContract(t *testing.T, c *contract) {
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}
	created := c.send(t, request{Path: "/api/v1/indicators", Body: exampleBody(t, c.doc, "createIndicator")}, 201, docValid)
	var res api.CommandResult
	require.NoError(t, json.Unmarshal(created.Data, &res))
	path := "/api/v1/indicators/" + res.ID
	assert.Equal(t, path, created.Header.Get("Location"))
	c.send(t, request{Path: "/api/v1/indicators", Body: exampleBody(t, c.doc, "createIndicator"), Header: viewer}, 403, docValid)
	bad := c.send(t, request{Path: "/api/v1/indicators", Body: `{"type": "ipv4", "value": "2001:db8::1", "source": "s"}`}, 400, docEither)
	assert.Contains(t, string(bad.Raw), `"field":"value"`)

	got := c.send(t, request{Method: "GET", Path: path + "?min_position=" + strconv.FormatInt(res.Position, 10), Header: viewer}, 200, docValid)
	assert.Contains(t, string(got.Data), `"value":"evil.example.com"`)
	list := c.send(t, request{Method: "GET", Path: "/api/v1/indicators?type=domain&value=EVIL.example.com.", Header: viewer}, 200, docValid)
	assert.Contains(t, string(list.Data), res.ID)
	c.send(t, request{Method: "GET", Path: "/api/v1/indicators?value=x"}, 400, docEither)
	c.send(t, request{Method: "GET", Path: path, Header: teamB}, 404, docValid)
	m := c.send(t, request{Method: "GET", Path: path + "/matches?limit=10", Header: viewer}, 200, docValid)
	assert.Contains(t, string(m.Data), `"sightings":0`)
	c.send(t, request{Method: "GET", Path: path + "/matches", Header: teamB}, 404, docValid)

	c.send(t, request{Method: "PUT", Path: path, Body: exampleBody(t, c.doc, "updateIndicator")}, 202, docValid)
	c.send(t, request{Method: "PUT", Path: path, Body: `{"value": "other.example", "source": "s"}`}, 400, docEither)
	c.send(t, request{Path: path + "/observe", Body: exampleBody(t, c.doc, "observeIndicator")}, 202, docValid)
	c.send(t, request{Path: path + "/observe", Body: exampleBody(t, c.doc, "observeIndicator"), Header: teamB}, 404, docValid)
	c.send(t, request{Method: "DELETE", Path: path, Body: exampleBody(t, c.doc, "revokeIndicator")}, 202, docValid)
	gone := c.send(t, request{Method: "DELETE", Path: path}, 422, docValid)
	assert.Contains(t, string(gone.Raw), "INDICATOR_REVOKED")
}
