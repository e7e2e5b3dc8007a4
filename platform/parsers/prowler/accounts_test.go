package prowler

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The account's own description comes through: OCSF cloud.account (name,
// labels as tags) and cloud.org (uid, else name).
func TestAccountDescription_OCSF(t *testing.T) {
	t.Parallel()
	obs, _ := parseSample(t, "prowler_v5.4_ocsf_gcp_placeholders.ocsf.json", FormatOCSF)
	require.NotEmpty(t, obs)
	for _, o := range obs {
		assert.Equal(t, "<project_name>", o.AccountName)
		assert.Equal(t, "<tenant_uid>", o.Organization)
	}
	// The sample's labels: ["tag:test"] twice, then ["tag:test", "tag2:test2"].
	assert.Equal(t, map[string]string{"tag": "test"}, obs[0].AccountTags)
	assert.Equal(t, map[string]string{"tag": "test", "tag2": "test2"}, obs[2].AccountTags)
	obs, _ = parseSample(t, "prowler_v5.4_ocsf_aws_placeholders.ocsf.json", FormatOCSF)
	assert.Nil(t, obs[0].AccountTags, "labels []")
}

// CSV: ACCOUNT_NAME, ACCOUNT_ORGANIZATION_UID and ACCOUNT_TAGS ("key=value
// | key=value", as Prowler writes RESOURCE_TAGS).
func TestAccountDescription_CSV(t *testing.T) {
	t.Parallel()
	r := csv.NewReader(bytes.NewReader(readSample(t, "prowler_v5.4_csv_aws_placeholders.csv")))
	r.Comma = ';'
	rows, err := r.ReadAll()
	require.NoError(t, err)
	col := func(name string) int { return slices.Index(rows[0], name) }
	for _, row := range rows[1:] {
		row[col("ACCOUNT_NAME")] = "prod"
		row[col("ACCOUNT_ORGANIZATION_UID")] = "o-abc"
		row[col("ACCOUNT_TAGS")] = "env=prod | owner=security"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = ';'
	require.NoError(t, w.WriteAll(rows))
	obs, _, err := parseBytes(t, b.Bytes(), FormatCSV)
	require.NoError(t, err)
	require.Len(t, obs, len(rows)-1)
	for _, o := range obs {
		assert.Equal(t, "prod", o.AccountName)
		assert.Equal(t, "o-abc", o.Organization)
		assert.Equal(t, map[string]string{"env": "prod", "owner": "security"}, o.AccountTags)
	}
}
