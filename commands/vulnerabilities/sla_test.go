package vulnerabilities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands/commandstest"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

func days(n int) *int { return &n }

// Given no policy, when a team sets one, then SLAPolicySet is appended
// to its own stream; the same policy again appends nothing; another team's
// stream is its own; a bad policy appends nothing and names the field.
func TestSetSLAPolicy(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	h := vulncmd.NewSLA(d.Kit)
	ctx := t.Context()
	pol := vuln.SLAPolicy{Days: vuln.SLADays{Critical: days(3), High: days(14)},
		Modules: map[string]vuln.SLADays{vuln.SLAModuleCloudFindings: {Critical: days(1)}}}

	res, err := h.SetSLAPolicy(ctx, metaOf(teamA), vulncmd.SetSLAPolicy{Policy: pol})
	require.NoError(t, err)
	assert.Equal(t, "slapolicy-team-a", res.StreamID)
	assert.Len(t, res.EventIDs, 1)
	evs := d.Decoded(t, "slapolicy-team-a")
	require.Len(t, evs, 1)
	set := evs[0].(vuln.SLAPolicySet)
	assert.Equal(t, pol, set.Policy)
	assert.False(t, set.SetAt.IsZero())
	commandstest.AssertMetadata(t, metaOf(teamA), d.Stream(t, "slapolicy-team-a")...)

	again, err := h.SetSLAPolicy(ctx, metaOf(teamA), vulncmd.SetSLAPolicy{Policy: pol})
	require.NoError(t, err)
	assert.Empty(t, again.EventIDs, "the policy in force: nothing appended")
	assert.Len(t, d.Stream(t, "slapolicy-team-a"), 1)

	d.Clock.Advance(time.Hour)
	_, err = h.SetSLAPolicy(ctx, metaOf(teamB), vulncmd.SetSLAPolicy{Policy: vuln.DefaultSLAPolicy()})
	require.NoError(t, err)
	assert.Len(t, d.Stream(t, "slapolicy-team-b"), 1, "a team's first policy is an event even when it is the default")

	head := d.Head(t)
	_, err = h.SetSLAPolicy(ctx, metaOf(teamA), vulncmd.SetSLAPolicy{Policy: vuln.SLAPolicy{Days: vuln.SLADays{High: days(0)},
		Modules: map[string]vuln.SLADays{"assets": {}}}})
	commandstest.RequireFields(t, err, "days.high", "modules.assets")
	assert.Equal(t, head, d.Head(t))
}

func TestSLAPolicyRules(t *testing.T) {
	t.Parallel()
	def := vuln.DefaultSLAPolicy()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for sev, want := range map[string]int{"critical": 7, "high": 30, "medium": 90, "low": 180} {
		due, ok := def.DueAt(vuln.SLAModuleVulnerabilities, sev, start)
		require.True(t, ok, sev)
		assert.Equal(t, start.AddDate(0, 0, want), due, sev)
	}
	_, ok := def.DueAt(vuln.SLAModuleVulnerabilities, "informational", start)
	assert.False(t, ok, "informational: no deadline")
	_, ok = def.DueAt(vuln.SLAModuleVulnerabilities, "unknown", start)
	assert.False(t, ok, "a vulnerability's unknown counts as informational")
	over := vuln.SLAPolicy{Days: def.Days, Modules: map[string]vuln.SLADays{vuln.SLAModuleCloudFindings: {High: days(5)}}}
	n, _ := over.DaysFor(vuln.SLAModuleCloudFindings, "high")
	assert.Equal(t, 5, n)
	n, _ = over.DaysFor(vuln.SLAModuleVulnerabilities, "high")
	assert.Equal(t, 30, n)
	_, ok = over.DaysFor(vuln.SLAModuleCloudFindings, "critical")
	assert.False(t, ok, "an override replaces the days of its module whole")
}
