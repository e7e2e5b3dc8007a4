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
