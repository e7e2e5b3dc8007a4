package trivy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// The secret values in ours_fs_secret_unmasked.json (fake), and lines that hold them.
var secretValues = []string{
	"wJalrXUtnFEMIzK7MDENGzbPxRfiCYzz9q8s7t6u",
	"AKIAZZQQXXVVWW112233",
	"ghp_Zq9xW8vU7tS6rR5qP4oN3mL2kJ1iH0gF9eDcB",
}

// TestSecrets_NoByteOfTheSecretSurvives: the items of a report with unmasked secrets in Match and Code hold the rule,
// the file and the lines, and not one distinctive piece of any value: every 6-byte window of each secret is searched
// for in the items, encoded as JSON (what an event would store) and printed with %#v (every field, exported or not).
func TestSecrets_NoByteOfTheSecretSurvives(t *testing.T) {
	data := sample(t, unmasked)
	for _, s := range secretValues {
		require.True(t, bytes.Contains(data, []byte(s)), "the sample holds %s", s)
	}
	items, sum, err := parseAll(t, data)
	require.NoError(t, err)
	require.Len(t, items, 2)
	encoded, err := json.Marshal(items)
	require.NoError(t, err)
	printed := fmt.Sprintf("%#v %#v %#v %#v", items, *items[0].Secret, *items[1].Secret, sum)
	for _, s := range secretValues {
		for i := 0; i+6 <= len(s); i++ {
			w := s[i : i+6]
			assert.NotContains(t, string(encoded), w, "a piece of a secret in the items")
			assert.NotContains(t, printed, w, "a piece of a secret in the values")
		}
	}
	assert.NotContains(t, string(encoded), "AWS_SECRET_ACCESS_KEY=")
	assert.NotContains(t, string(encoded), "GITHUB_TOKEN=")
	// What is kept: rule, category, severity, file, lines
	assert.Equal(t, vuln.Secret{RuleID: "aws-secret-access-key", Category: "AWS", Title: "AWS Secret Access Key", Severity: vuln.SeverityCritical,
		Target: "deploy/.env", Location: vuln.Location{StartLine: 3, EndLine: 3}}, *items[0].Secret)
	assert.Equal(t, "github-pat", items[1].Secret.RuleID)
	assert.Equal(t, vuln.Location{StartLine: 7, EndLine: 7}, items[1].Secret.Location)
}

func TestSecrets_MaskedSampleKeepsNoMatch(t *testing.T) {
	items, _ := mustParse(t, misconfig)
	var secrets []vuln.Secret
	for _, it := range items {
		if it.Kind == trivy.ItemSecret {
			secrets = append(secrets, *it.Secret)
		}
	}
	require.Len(t, secrets, 2)
	encoded, _ := json.Marshal(secrets)
	assert.NotContains(t, string(encoded), "GITHUB_PAT")
	assert.NotContains(t, string(encoded), "*****")
	assert.Equal(t, "Dockerfile", secrets[0].Target)
	assert.Equal(t, 24, secrets[0].Location.StartLine)
	assert.Equal(t, "secret.txt", secrets[1].Target)
}
