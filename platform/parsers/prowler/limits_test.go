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
