package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
)

// kevFeed writes a KEV sample subset with its count set to its entries (a
// whole feed, as the import demands) and returns its path.
func kevFeed(t *testing.T, name string, entries int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "kev", "testdata", name))
	require.NoError(t, err)
	b = regexp.MustCompile(`"count": [0-9]+`).ReplaceAll(b, []byte(`"count": `+strconv.Itoa(entries)))
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// `cspm import --format kev-json` of the 2025-05-22 then 2025-06-09
// feeds: the second's diff; the same again appends nothing; a truncated
// feed is rejected whole.
func TestImportCLI_KEVPair(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	may22 := kevFeed(t, "known_exploited_vulnerabilities_2025.05.22_subset.json", 15)
	jun09 := kevFeed(t, "known_exploited_vulnerabilities_2025.06.09_subset.json", 23)

	r := a.cli(t, nil, "import", may22, "--server", a.base, "--format", "kev-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(15 entries): 15 published, 0 updated, 0 withdrawn, 0 unchanged")
	r = a.cli(t, nil, "import", jun09, "--server", a.base, "--format", "kev-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported the KEV catalogue 2025.06.09")
	assert.Contains(t, r.stdout, "(23 entries): 9 published, 9 updated, 1 withdrawn, 5 unchanged")

	head := a.head(t)
	r = a.cli(t, nil, "import", jun09, "--server", a.base, "--format", "kev-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "holds the KEV catalogue in force")
	assert.Equal(t, head, a.head(t), "nothing appended")

	cut := filepath.Join(t.TempDir(), "cut.json")
	b, err := os.ReadFile(jun09)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cut, b[:len(b)/2], 0o600))
	r = a.cli(t, nil, "import", cut, "--server", a.base, "--format", "kev-json")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "rejected whole")
	assert.Equal(t, head+1, a.head(t), "only the rejection is recorded")
}

// isolationKEVCVE is an entry of the KEV catalogue the isolation world
// imports.
const isolationKEVCVE = "CVE-2025-4632"

// isolationKEVWorld imports the 2025-05-22 KEV feed as team A's admin and
// waits until it is projected.
func isolationKEVWorld(t *testing.T, a *testApp, asA []string) {
	t.Helper()
	raw, err := os.ReadFile(kevFeed(t, "known_exploited_vulnerabilities_2025.05.22_subset.json", 15))
	require.NoError(t, err)
	var feed any
	require.NoError(t, json.Unmarshal(raw, &feed))
	must(t, a.call(t, http.MethodPost, "/api/v1/imports?format=kev-json", feed, asA...), http.StatusAccepted)
	eventually(t, 30*time.Second, "the KEV catalogue is projected", func() bool {
		return a.call(t, http.MethodGet, "/api/v1/kev/"+isolationKEVCVE, nil, asA...).status == http.StatusOK
	})
}

// isolationIndicatorWorld gives team A indicators: active, observed,
// revoked. It returns their ids and values.
func isolationIndicatorWorld(t *testing.T, a *testApp, asA []string) (ids, values []string) {
	t.Helper()
	for i, v := range []string{"iso-a-active.example", "iso-a-observed.example", "iso-a-revoked.example"} {
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/indicators", map[string]any{"type": "domain", "value": v, "confidence": 50, "source": "iso-a-source"}, asA...), http.StatusCreated).data(t, &res)
		switch i {
		case 1:
			must(t, a.call(t, http.MethodPost, "/api/v1/indicators/"+res.ID+"/observe", nil, asA...), http.StatusAccepted)
		case 2:
			must(t, a.call(t, http.MethodDelete, "/api/v1/indicators/"+res.ID, nil, asA...), http.StatusAccepted)
		}
		ids, values = append(ids, res.ID), append(values, v)
	}
	return ids, values
}
