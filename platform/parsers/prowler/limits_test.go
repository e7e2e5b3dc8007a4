package prowler

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// csvRows streams a CSV whose row i is row(i), for n rows.
type csvRows struct {
	n, i int
	row  func(i int) string
	buf  []byte
}

func (c *csvRows) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.i > c.n {
			return 0, io.EOF
		}
		if c.i == 0 {
			c.buf = []byte(csvHeader)
		} else {
			c.buf = []byte(c.row(c.i))
		}
		c.i++
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func rowWith(check, account string) string {
	r := strings.Replace(okCSVRow, ";s3_bucket_public_access;", ";"+check+";", 1)
	return strings.Replace(r, ";111122223333;", ";"+account+";", 1)
}

func TestParse_DistinctLimits(t *testing.T) {
	t.Parallel()
	checks := &csvRows{n: MaxDistinctChecks + 1, row: func(i int) string { return rowWith(fmt.Sprintf("check_%d", i), "111122223333") }}
	sum, err := Parse(t.Context(), checks, FormatCSV, func(observation) error { return nil })
	require.ErrorIs(t, err, ErrTooManyDistinct)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, MaxDistinctChecks+2, pe.Line, "the row of the first check over the limit")
	assert.Equal(t, "check", pe.Field)
	assert.Equal(t, MaxDistinctChecks, sum.Observations)

	accounts := &csvRows{n: MaxDistinctAccounts + 1, row: func(i int) string { return rowWith("s3_bucket_public_access", fmt.Sprintf("%012d", i)) }}
	sum, err = Parse(t.Context(), accounts, FormatCSV, func(observation) error { return nil })
	require.ErrorIs(t, err, ErrTooManyDistinct)
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, MaxDistinctAccounts+2, pe.Line)
	assert.Equal(t, "account", pe.Field)
	assert.Len(t, sum.Accounts, MaxDistinctAccounts)
}

func TestParse_KubernetesCSV(t *testing.T) {
	t.Parallel()
	row := strings.NewReplacer(";aws;", ";kubernetes;", ";111122223333;", ";arn:aws:eks:eu-west-1:111122223333:cluster/prod;",
		";eu-west-1;", ";namespace: kube-system;", ";False;", ";True;").Replace(okCSVRow)
	obs, sum, err := parseBytes(t, []byte(csvHeader+row), FormatCSV)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.Equal(t, "kubernetes", obs[0].Provider)
	assert.Equal(t, "arn:aws:eks:eu-west-1:111122223333:cluster/prod", obs[0].AccountUID, "ACCOUNT_UID is the cluster")
	assert.Equal(t, "kube-system", obs[0].Region, "the namespace")
	assert.True(t, obs[0].Muted, "MUTED True")
	assert.Equal(t, Counts{Fail: 1, Muted: 1}, sum.Results)
	assert.Equal(t, map[string][]string{"CIS-1.4": {"1.20"}, "CIS-3.0": {"1.20"}}, obs[0].Compliance)
}

// Prowler 4.0 wrote no metadata.event_code (the check is in the finding
// uid); 4.x Kubernetes findings carry the namespace in resources[].region
// and a container object instead of cloud; 4.x categories are one string.
func TestParse_OCSF4xShapes(t *testing.T) {
	t.Parallel()
	el := `{"metadata":{"product":{"name":"Prowler","vendor_name":"Prowler","version":"4.0.1"}},
"severity":"Medium","status":"New","status_code":"PASS","status_id":3,"class_uid":2004,
"finding_info":{"created_time":"2024-04-02T10:11:12.131415","title":"t",
 "uid":"prowler-kubernetes-rbac_minimize_wildcard_use_roles-prod-cluster-namespace: kube-system-admin-role"},
"resources":[{"region":"namespace: kube-system","name":"admin-role","uid":"uid-1","type":"ClusterRole","labels":[],"group":{"name":"rbac"}}],
"container":{"name":"admin-role","uid":"uid-1"},
"unmapped":{"categories":"trustboundaries | cluster-security","compliance":{"CIS-1.8":["5.1.3"]}},
"event_time":"2024-04-02T10:11:12.131415"}`
	obs, sum, err := parseBytes(t, []byte(arr(el)), FormatOCSF)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	o := obs[0]
	assert.Equal(t, "rbac_minimize_wildcard_use_roles", o.CheckID, "from the finding uid")
	assert.Equal(t, "kubernetes", o.Provider, "from the finding uid")
	assert.Equal(t, "prod-cluster", o.AccountUID, "the cluster, from the finding uid")
	assert.Equal(t, "kube-system", o.Region)
	assert.Equal(t, "pass", string(o.Result))
	assert.False(t, o.Muted, "status_id 3 is not muted")
	assert.Equal(t, []string{"trustboundaries", "cluster-security"}, o.Categories)
	assert.Equal(t, "2024-04-02T10:11:12.131415Z", o.ObservedAt.Format("2006-01-02T15:04:05.999999Z07:00"))
	assert.Equal(t, "4.0.1", sum.ToolVersion)
}
