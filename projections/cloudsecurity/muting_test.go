package cloudsecurity_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/cloudsecurity"
	"github.com/cspm-es/cspm-es/projections/fold"
	"github.com/cspm-es/cspm-es/projections/projectionstest"
)

func mutedChecks(tx *projectionstest.MemTx) []string {
	var out []string
	for _, d := range tx.Colls[cloudsecurity.FindingsCollection] {
		if fold.Flag(d, "muted") {
			out = append(out, fold.Str(d, "check_id")+"@"+fold.Str(d, "region"))
		}
	}
	slices.Sort(out)
	return out
}

func ruleStream(team string, first int64, evs ...projectionstest.EventData) []projections.Event {
	ps := make([]int64, len(evs))
	for i := range ps {
		ps[i] = first + int64(i)
	}
	return stream(team, ps, evs...)
}

var multiRegion = csdomain.MutingRuleCreated{RuleID: "r1", Name: "accepted", Reason: "org trail elsewhere", Owner: "alice",
	Match:     csdomain.MuteMatch{Checks: []string{"cloudtrail_multi_region_enabled"}, Regions: []string{"us-east-1", "eu-north-1"}},
	CreatedAt: t0}

func TestMuting(t *testing.T) {
	t.Parallel()
	p := cloudsecurity.NewFindings()
	imps, next := imports("team-a", 1, scan1())
	rule := ruleStream("team-a", next, multiRegion)

	t.Run("a rule mutes what it matches, findings that appear later included", func(t *testing.T) {
		t.Parallel()
		tx := apply(t, p, slices.Concat(rule, imps[0])...)
		assert.Equal(t, []string{"cloudtrail_multi_region_enabled@eu-north-1", "cloudtrail_multi_region_enabled@us-east-1"}, mutedChecks(tx))
		d := tx.Doc(t, cloudsecurity.MutingRulesCollection, "r1")
		assert.Equal(t, "active", d["status"])
	})
	t.Run("a rule created later mutes the findings already there", func(t *testing.T) {
		t.Parallel()
		tx := apply(t, p, slices.Concat(imps[0], rule)...)
		assert.Len(t, mutedChecks(tx), 2)
	})
	t.Run("removed, it unmutes them; the findings' lifecycle is untouched", func(t *testing.T) {
		t.Parallel()
		removed := ruleStream("team-a", next+1, csdomain.MutingRuleRemoved{RuleID: "r1", RemovedAt: t0.Add(time.Hour)})
		tx := apply(t, p, slices.Concat(imps[0], rule, removed)...)
		assert.Empty(t, mutedChecks(tx))
		assert.Len(t, findingsByStatus(tx)["open"], 6)
		assert.Equal(t, "removed", tx.Doc(t, cloudsecurity.MutingRulesCollection, "r1")["status"])
	})
	t.Run("changed, what it no longer matches is unmuted", func(t *testing.T) {
		t.Parallel()
		changed := ruleStream("team-a", next+1, csdomain.MutingRuleChanged{RuleID: "r1", Name: "n", Reason: "r", Owner: "o",
			Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_multi_region_enabled"}, Regions: []string{"us-east-1"}}, ChangedAt: t0.Add(time.Hour)})
		tx := apply(t, p, slices.Concat(imps[0], rule, changed)...)
		assert.Equal(t, []string{"cloudtrail_multi_region_enabled@us-east-1"}, mutedChecks(tx))
	})
	t.Run("by tag and by finding id; another team's rule mutes nothing here", func(t *testing.T) {
		t.Parallel()
		tagged := slices.Clone(scan1())
		byTag := ruleStream("team-a", next, csdomain.MutingRuleCreated{RuleID: "r2", Name: "n", Reason: "r", Owner: "o",
			Match: csdomain.MuteMatch{Tags: map[string]string{"env": "sandbox"}}, CreatedAt: t0})
		other := ruleStream("team-b", next+1, csdomain.MutingRuleCreated{RuleID: "r3", Name: "n", Reason: "r", Owner: "o",
			Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_bedrock_logging_enabled"}}, CreatedAt: t0})
		rr := tagged[1].(csdomain.ResultsRecorded)
		rr.Results = slices.Clone(rr.Results)
		rr.Results[0].Tags = map[string]string{"env": "sandbox"}
		tagged[1] = rr
		timps, _ := imports("team-a", 1, tagged)
		tx := apply(t, p, slices.Concat(timps[0], byTag, other)...)
		assert.Equal(t, []string{"cloudtrail_bedrock_logging_enabled@eu-west-1"}, mutedChecks(tx))
	})
	t.Run("order independent", func(t *testing.T) {
		t.Parallel()
		streams, n := imports("team-a", 1, scan1(), scan2())
		assertOrderIndependent(t, p, append(streams, ruleStream("team-a", n, multiRegion,
			csdomain.MutingRuleChanged{RuleID: "r1", Name: "n", Reason: "r", Owner: "o",
				Match: csdomain.MuteMatch{Checks: []string{"cloudtrail_kms_encryption_enabled"}}, ChangedAt: t0.Add(time.Hour)})))
	})
}
