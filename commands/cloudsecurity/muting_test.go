package cloudsecurity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
)

func ruleDef(name string) cloudsecurity.CreateMutingRule {
	return cloudsecurity.CreateMutingRule{Name: name, Reason: "sandbox accounts", Owner: "alice@example.com",
		Match: cloudsecurity.RuleMatch{Accounts: []string{"111", "111"}, Checks: []string{"s3_b", "s3_a"}, Tags: map[string]string{"env": "dev"}}}
}

// createRule creates a rule for meta's team and returns its id.
func (d *deps) createRule(t *testing.T, meta commands.Meta, def cloudsecurity.CreateMutingRule) string {
	t.Helper()
	res, err := d.h.CreateMutingRule(t.Context(), meta, def)
	require.NoError(t, err)
	return res.ID
}

func TestCreateMutingRule(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	expires := ct.T0.Add(24 * time.Hour)
	def := ruleDef("dev accounts")
	def.ExpiresAt = &expires
	res, err := d.h.CreateMutingRule(t.Context(), ct.TeamA, def)
	require.NoError(t, err)
	ct.AssertUUIDv7(t, res.ID)
	assert.Equal(t, "mutingrule-"+res.ID, res.StreamID)
	assert.Equal(t, int64(1), res.Version)
	assert.Equal(t, d.Head(t), res.Position)
	events := d.Stream(t, res.StreamID)
	require.Len(t, events, 1)
	assert.Equal(t, commands.StreamTypeMutingRule, events[0].StreamType)
	ct.AssertMetadata(t, ct.TeamA, events...)
	assert.Equal(t, []any{csdomain.MutingRuleCreated{RuleID: res.ID, Name: "dev accounts", Reason: "sandbox accounts",
		Owner: "alice@example.com", Match: csdomain.MuteMatch{Accounts: []string{"111"}, Checks: []string{"s3_a", "s3_b"},
			Tags: map[string]string{"env": "dev"}}, ExpiresAt: expires, CreatedAt: ct.T0}}, d.Decoded(t, res.StreamID))

	t.Run("the audit replay shows the rule", func(t *testing.T) {
		state, err := commands.State(d.Codec, events)
		require.NoError(t, err)
		s, ok := state.(csdomain.MutingRuleState)
		require.True(t, ok, "state is %T", state)
		assert.Equal(t, "active", s.Status)
		assert.Equal(t, expires, s.ExpiresAt)
	})

	t.Run("each create is a new rule with a new id", func(t *testing.T) {
		again, err := d.h.CreateMutingRule(t.Context(), ct.TeamA, def)
		require.NoError(t, err)
		assert.NotEqual(t, res.ID, again.ID)
	})
}

func TestCreateMutingRuleBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	head := d.Head(t)
	past := ct.T0.Add(-time.Minute)
	tests := []struct {
		name   string
		def    func(*cloudsecurity.CreateMutingRule)
		fields []string
	}{
		{"no name, reason or owner", func(r *cloudsecurity.CreateMutingRule) { r.Name, r.Reason, r.Owner = "", " ", "" },
			[]string{"name", "reason", "owner"}},
		{"matches nothing", func(r *cloudsecurity.CreateMutingRule) { r.Match = cloudsecurity.RuleMatch{} }, []string{"match"}},
		{"an expiry in the past", func(r *cloudsecurity.CreateMutingRule) { r.ExpiresAt = &past }, []string{"expires_at"}},
		{"an empty region", func(r *cloudsecurity.CreateMutingRule) { r.Match.Regions = []string{"eu-west-1", ""} }, []string{"match.regions"}},
		{"a name over its limit", func(r *cloudsecurity.CreateMutingRule) { r.Name = strings.Repeat("n", 257) }, []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := ruleDef("r")
			tc.def(&def)
			_, err := d.h.CreateMutingRule(t.Context(), ct.TeamA, def)
			ct.RequireFields(t, err, tc.fields...)
			assert.Equal(t, head, d.Head(t), "nothing appended")
		})
	}
}

func TestCreateMutingRuleIdempotency(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	meta := ct.WithKey(ct.TeamA, "rule-1")
	first, err := d.h.CreateMutingRule(t.Context(), meta, ruleDef("a"))
	require.NoError(t, err)
	head := d.Head(t)
	again, err := d.h.CreateMutingRule(t.Context(), meta, ruleDef("a"))
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.ID, again.ID, "the retry gets the first rule's id")
	assert.Equal(t, head, d.Head(t))
	_, err = d.h.CreateMutingRule(t.Context(), meta, ruleDef("b"))
	require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
	// Keys are per team: team B's same key is another command.
	other, err := d.h.CreateMutingRule(t.Context(), ct.WithKey(ct.TeamB, "rule-1"), ruleDef("a"))
	require.NoError(t, err)
	assert.False(t, other.Duplicate)
	assert.NotEqual(t, first.ID, other.ID)
}

func TestMutingRuleCommands(t *testing.T) {
	t.Parallel()
	d := newDeps(t)
	ctx := t.Context()

	t.Run("change, then remove", func(t *testing.T) {
		id := d.createRule(t, ct.TeamA, ruleDef("dev"))
		d.Clock.Advance(time.Minute)
		changed := ruleDef("dev, narrower")
		changed.Match = cloudsecurity.RuleMatch{Checks: []string{"s3_a"}}
		res, err := d.h.ChangeMutingRule(ctx, ct.TeamA, change(id, changed))
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)
		assert.Equal(t, id, res.ID)
		d.Clock.Advance(time.Minute)
		res, err = d.h.RemoveMutingRule(ctx, ct.TeamA, cloudsecurity.RemoveMutingRule{RuleID: id, Reason: "sandbox closed"})
		require.NoError(t, err)
		assert.Equal(t, int64(3), res.Version)
		got := d.Decoded(t, "mutingrule-"+id)
		require.Len(t, got, 3)
		assert.Equal(t, csdomain.MutingRuleChanged{RuleID: id, Name: "dev, narrower", Reason: "sandbox accounts", Owner: "alice@example.com",
			Match: csdomain.MuteMatch{Checks: []string{"s3_a"}}, ChangedAt: ct.T0.Add(time.Minute)}, got[1])
		assert.Equal(t, csdomain.MutingRuleRemoved{RuleID: id, Reason: "sandbox closed", RemovedAt: ct.T0.Add(2 * time.Minute)}, got[2])
		ct.AssertMetadata(t, ct.TeamA, d.Stream(t, "mutingrule-"+id)...)

		head := d.Head(t)
		_, err = d.h.ChangeMutingRule(ctx, ct.TeamA, change(id, changed))
		ct.RequireRule(t, err, csdomain.CodeMutingRuleEnded)
		_, err = d.h.RemoveMutingRule(ctx, ct.TeamA, cloudsecurity.RemoveMutingRule{RuleID: id})
		ct.RequireRule(t, err, csdomain.CodeMutingRuleEnded)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("expire only once due, dated at the expiry", func(t *testing.T) {
		def := ruleDef("temporary")
		expires := d.Clock.Now().Add(time.Hour)
		def.ExpiresAt = &expires
		id := d.createRule(t, ct.TeamA, def)
		forGood := d.createRule(t, ct.TeamA, ruleDef("for good"))
		head := d.Head(t)
		_, err := d.h.ExpireMutingRule(ctx, ct.TeamA, cloudsecurity.ExpireMutingRule{RuleID: id})
		ct.RequireRule(t, err, csdomain.CodeMutingRuleNotDue)
		_, err = d.h.ExpireMutingRule(ctx, ct.TeamA, cloudsecurity.ExpireMutingRule{RuleID: forGood})
		ct.RequireRule(t, err, csdomain.CodeMutingRuleNotDue)
		assert.Equal(t, head, d.Head(t))

		d.Clock.Advance(90 * time.Minute)
		res, err := d.h.ExpireMutingRule(ctx, ct.TeamA, cloudsecurity.ExpireMutingRule{RuleID: id})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)
		got := d.Decoded(t, "mutingrule-"+id)
		assert.Equal(t, csdomain.MutingRuleExpired{RuleID: id, ExpiredAt: expires}, got[len(got)-1])
		_, err = d.h.ExpireMutingRule(ctx, ct.TeamA, cloudsecurity.ExpireMutingRule{RuleID: id})
		ct.RequireRule(t, err, csdomain.CodeMutingRuleEnded) // a second expiry is a rule error (the scheduler ignores it)
		state, err := commands.State(d.Codec, d.Stream(t, "mutingrule-"+id))
		require.NoError(t, err)
		assert.Equal(t, "expired", state.(csdomain.MutingRuleState).Status)
	})

	t.Run("another team's rule, an unknown rule, no rule id", func(t *testing.T) {
		id := d.createRule(t, ct.TeamA, ruleDef("mine"))
		head := d.Head(t)
		for _, meta := range []commands.Meta{ct.TeamB, ct.TeamA} {
			target := id
			if meta.TeamID == ct.TeamA.TeamID {
				target = "0196f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e10"
			}
			_, err := d.h.ChangeMutingRule(ctx, meta, change(target, ruleDef("x")))
			require.ErrorIs(t, err, domain.ErrNotFound)
			_, err = d.h.RemoveMutingRule(ctx, meta, cloudsecurity.RemoveMutingRule{RuleID: target})
			require.ErrorIs(t, err, domain.ErrNotFound)
			_, err = d.h.ExpireMutingRule(ctx, meta, cloudsecurity.ExpireMutingRule{RuleID: target})
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		_, err := d.h.RemoveMutingRule(ctx, ct.TeamA, cloudsecurity.RemoveMutingRule{})
		ct.RequireFields(t, err, "rule_id")
		// A scan's stream is no rule, even of the caller's team.
		scan := d.RequestScan(t, ct.TeamA)
		_, err = d.h.RemoveMutingRule(ctx, ct.TeamA, cloudsecurity.RemoveMutingRule{RuleID: scan})
		require.ErrorIs(t, err, domain.ErrNotFound)
		assert.Equal(t, head+1, d.Head(t), "only the scan was appended")
	})

	t.Run("bad input to a change appends nothing", func(t *testing.T) {
		id := d.createRule(t, ct.TeamA, ruleDef("mine"))
		head := d.Head(t)
		bad := ruleDef("")
		bad.Match = cloudsecurity.RuleMatch{}
		_, err := d.h.ChangeMutingRule(ctx, ct.TeamA, change(id, bad))
		ct.RequireFields(t, err, "name", "match")
		_, err = d.h.RemoveMutingRule(ctx, ct.TeamA, cloudsecurity.RemoveMutingRule{RuleID: id, Reason: strings.Repeat("r", 4097)})
		ct.RequireFields(t, err, "reason")
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("a retried remove is a duplicate", func(t *testing.T) {
		id := d.createRule(t, ct.TeamA, ruleDef("mine"))
		meta := ct.WithKey(ct.TeamA, "remove-"+id)
		first, err := d.h.RemoveMutingRule(ctx, meta, cloudsecurity.RemoveMutingRule{RuleID: id})
		require.NoError(t, err)
		again, err := d.h.RemoveMutingRule(ctx, meta, cloudsecurity.RemoveMutingRule{RuleID: id})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.EventIDs, again.EventIDs)
	})
}

// change is the ChangeMutingRule of rule id to def.
func change(id string, def cloudsecurity.CreateMutingRule) cloudsecurity.ChangeMutingRule {
	return cloudsecurity.ChangeMutingRule{RuleID: id, Name: def.Name, Reason: def.Reason, Owner: def.Owner, Match: def.Match, ExpiresAt: def.ExpiresAt}
}
