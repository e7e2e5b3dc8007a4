package kev_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

// TestSchema_RequiredFieldsAreEnforced: every field CISA's schema (both revisions) requires of the feed and of an
// entry is one whose absence the parser rejects; every property it names is read (a feed holding all of them parses).
func TestSchema_RequiredFieldsAreEnforced(t *testing.T) {
	for _, name := range []string{"known_exploited_vulnerabilities_schema_2025-01.json", "known_exploited_vulnerabilities_schema_latest.json"} {
		var schema struct {
			Required []string `json:"required"`
			Defs     struct {
				Vulnerability struct {
					Required   []string                   `json:"required"`
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"vulnerability"`
			} `json:"$defs"`
		}
		require.NoError(t, json.Unmarshal(sample(t, name), &schema), name)
		require.NotEmpty(t, schema.Defs.Vulnerability.Required, name)
		for _, field := range schema.Required {
			feed := dropKey(t, []byte(whole), "", field)
			_, err := parse(t, feed, kev.FormatJSON, kev.Options{})
			assert.ErrorIs(t, err, kev.ErrMissingField, "%s: feed without %s", name, field)
		}
		for _, field := range schema.Defs.Vulnerability.Required {
			feed := dropKey(t, []byte(whole), "entry", field)
			_, err := parse(t, feed, kev.FormatJSON, kev.Options{})
			assert.ErrorIs(t, err, kev.ErrMissingField, "%s: entry without %s", name, field)
		}
		for prop := range schema.Defs.Vulnerability.Properties {
			assert.Contains(t, whole, `"`+prop+`"`, "%s: the test feed holds %s", name, prop)
		}
	}
}

// dropKey removes key from the feed (where "") or from its first entry.
func dropKey(t *testing.T, feed []byte, where, key string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(feed, &m))
	if where == "" {
		delete(m, key)
	} else {
		delete(m["vulnerabilities"].([]any)[0].(map[string]any), key)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}
