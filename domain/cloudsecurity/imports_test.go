package cloudsecurity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

var observation = cloudsecurity.Observation{
	Tool: "prowler", ToolVersion: "5.34.0", Provider: "AWS", AccountUID: "018134828551", Region: "eu-west-1",
	CheckID: "cloudtrail_multi_region_enabled", CheckTitle: "Trail is multi-region", Service: "cloudtrail",
	Severity: cloudsecurity.SeverityHigh, Result: cloudsecurity.ResultFail, StatusDetail: "No trail",
	ResourceUID: "arn:aws:cloudtrail:eu-west-1:018134828551:trail", ResourceName: "018134828551",
	ResourceTags: map[string]string{"env": "prod"}, FindingUID: "prowler-aws-...", ObservedAt: time.Date(2026, 7, 17, 1, 2, 3, 0, time.UTC),
	Description: "d", Compliance: map[string][]string{"CIS-3.0": {"3.1"}},
}

func TestResultOf(t *testing.T) {
	t.Parallel()
	r, err := cloudsecurity.ResultOf(observation)
	require.NoError(t, err)
	assert.Equal(t, "aws", r.Provider, "provider in lower case")
	assert.Equal(t, observation.ResourceUID, r.Resource)
	id := r.Identity(cloudsecurity.IdentityProwlerV1)
	assert.Equal(t, cloudsecurity.Scope{Provider: "aws", Account: "018134828551", Region: "eu-west-1", Check: "cloudtrail_multi_region_enabled"}, id.Scope)
	assert.True(t, cloudsecurity.IsImportedFinding(id.FindingID("team-a")))
	assert.NotEqual(t, id.FindingID("team-a"), id.FindingID("team-b"), "findings are per team")
	assert.Len(t, id.FindingID("team-a"), 36)

	noResource := observation
	noResource.ResourceUID = ""
	r, err = cloudsecurity.ResultOf(noResource)
	require.NoError(t, err)
	assert.Equal(t, "018134828551", r.Resource, "the resource name stands in for a missing uid")

	for name, tc := range map[string]struct {
		change func(*cloudsecurity.Observation)
		fields []string
	}{
		"no account":        {func(o *cloudsecurity.Observation) { o.AccountUID = "" }, []string{"account"}},
		"no check":          {func(o *cloudsecurity.Observation) { o.CheckID = "" }, []string{"check_id"}},
		"no resource":       {func(o *cloudsecurity.Observation) { o.ResourceUID, o.ResourceName = "", "" }, []string{"resource"}},
		"unknown result":    {func(o *cloudsecurity.Observation) { o.Result = "maybe" }, []string{"result"}},
		"unknown severity":  {func(o *cloudsecurity.Observation) { o.Severity = "severe" }, []string{"severity"}},
		"detail too long":   {func(o *cloudsecurity.Observation) { o.StatusDetail = strings.Repeat("x", domain.MaxReason+1) }, []string{"status_detail"}},
		"no time":           {func(o *cloudsecurity.Observation) { o.ObservedAt = time.Time{} }, []string{"observed_at"}},
		"resource too long": {func(o *cloudsecurity.Observation) { o.ResourceUID = strings.Repeat("r", domain.MaxReference+1) }, []string{"resource"}},
	} {
		o := observation
		tc.change(&o)
		_, err := cloudsecurity.ResultOf(o)
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve, name)
		var fields []string
		for _, f := range ve.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, tc.fields, fields, name)
	}
}

func TestCheckInfoOf(t *testing.T) {
	t.Parallel()
	c, err := cloudsecurity.CheckInfoOf(observation)
	require.NoError(t, err)
	assert.Equal(t, "Trail is multi-region", c.Title)
	assert.Equal(t, map[string][]string{"CIS-3.0": {"3.1"}}, c.Compliance)
	long := observation
	long.Description = strings.Repeat("d", domain.MaxDescription+1)
	_, err = cloudsecurity.CheckInfoOf(long)
	assert.Error(t, err)
}

// What a scan evaluated: per account, every region it reports × every
// check it reports (a pass counts: the check ran there).
func TestImportScope(t *testing.T) {
	t.Parallel()
	var s cloudsecurity.ImportScope
	add := func(account, region, check string) {
		s.Add(cloudsecurity.CheckResult{Provider: "aws", Account: account, Region: region, Check: check})
	}
	add("111", "eu-west-1", "a")
	add("111", "us-east-1", "b")
	add("111", "eu-west-1", "b")
	add("222", "eu-north-1", "a")
	scopes := s.Scopes()
	assert.Equal(t, []cloudsecurity.EvaluatedScope{
		{Provider: "aws", Account: "111", Regions: []string{"eu-west-1", "us-east-1"}, Checks: []string{"a", "b"}},
		{Provider: "aws", Account: "222", Regions: []string{"eu-north-1"}, Checks: []string{"a"}},
	}, scopes)
	assert.Len(t, scopes[0].Scopes(), 4, "us-east-1 × a was evaluated: check a ran, region us-east-1 was scanned")
	assert.Equal(t, "imp-", cloudsecurity.ImportID("t", "abc")[:4])
	assert.NotEqual(t, cloudsecurity.ImportID("t1", "abc"), cloudsecurity.ImportID("t2", "abc"))
}
