package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// importInto stores one import's events for team straight in the app's
// event store (the import route is not wired into serve yet) and returns
// the position of the append.
func (a *testApp) importInto(t *testing.T, team string, events ...pt.EventData) int64 {
	t.Helper()
	req, err := pt.ImportRequest(eventstore.NewDomainCodec(), team, events...)
	require.NoError(t, err)
	res, err := a.store.Append(context.Background(), req)
	require.NoError(t, err)
	return res.LastPosition()
}

// findings lists the caller's findings matching query once the findings
// projection has passed position.
func (a *testApp) findings(t *testing.T, query string, position int64, header ...string) []csquery.Finding {
	t.Helper()
	var ans *answer
	eventually(t, 30*time.Second, "findings at position "+itoa(position), func() bool {
		ans = a.get(t, "/api/v1/findings?limit=200&min_position="+itoa(position)+"&"+query, header...)
		return ans.status == http.StatusOK && !stale(ans)
	})
	var out []csquery.Finding
	ans.data(t, &out)
	return out
}

func findingByID(t *testing.T, fs []csquery.Finding, id string) csquery.Finding {
	t.Helper()
	i := slices.IndexFunc(fs, func(f csquery.Finding) bool { return f.ID == id })
	require.GreaterOrEqual(t, i, 0, "finding %s is not in the list", id)
	return fs[i]
}

// pairFinding is the id of team's finding of the pair's check in region.
func pairFinding(team, check, region string) string {
	return pt.Result(check, region, pt.Trail(region), csdomain.ResultFail, csdomain.SeverityHigh).Identity(csdomain.IdentityProwlerV1).FindingID(team)
}

// TestMutingRuleExpiry: in the running app, a rule that expires a second
// after its creation mutes the findings it matches, then the scheduler
// ends it (MutingRuleExpired, by the system) and they are unmuted.
func TestMutingRuleExpiry(t *testing.T) {
	t.Parallel()
	// The scheduler sweeps every 50ms, but sees nothing due until the test
	// has seen the rule mute (the expiry itself is real: the command checks
	// the clock).
	var released atomic.Bool
	a := startAppWith(t, nil, fx.Decorate(func(m *mutingExpiry) *mutingExpiry {
		m.Interval = 50 * time.Millisecond
		clock := m.now
		m.now = func() time.Time {
			if released.Load() {
				return clock()
			}
			return time.Unix(0, 0)
		}
		return m
	}))
	team := a.cfg.DefaultTeam
	pos := a.importInto(t, team, pt.PairScan1()...)
	require.Len(t, a.findings(t, "", pos), 6)

	expires := time.Now().Add(time.Second)
	created := must(t, a.post(t, "/api/v1/muting-rules", map[string]any{
		"name": "multi-region trails", "reason": "an organization trail is planned", "owner": "alice@example.com",
		"match": map[string]any{"checks": []string{"cloudtrail_multi_region_enabled"}}, "expires_at": expires,
	}), http.StatusCreated)
	var res api.CommandResult
	created.data(t, &res)
	ruleID := res.ID

	muted := a.findings(t, "muted=true", created.env.Meta.Position)
	require.Len(t, muted, 3, "the rule mutes the three multi-region findings")
	for _, f := range muted {
		assert.Equal(t, []string{ruleID}, f.MutedBy)
		assert.Equal(t, "cloudtrail_multi_region_enabled", f.CheckID)
	}
	var rule csquery.MutingRule
	must(t, a.get(t, "/api/v1/muting-rules/"+ruleID), http.StatusOK).data(t, &rule)
	assert.Equal(t, "active", rule.Status)

	released.Store(true)
	eventually(t, 30*time.Second, "the scheduler expires the rule", func() bool {
		must(t, a.get(t, "/api/v1/muting-rules/"+ruleID), http.StatusOK).data(t, &rule)
		return rule.Status == "expired"
	})
	assert.Equal(t, eventstore.NormalizeTime(expires), rule.ExpiresAt)
	assert.Equal(t, rule.ExpiresAt, rule.EndedAt, "ended at its expiry")
	head, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	assert.Empty(t, a.findings(t, "muted=true", head), "what it muted is unmuted")
	for _, f := range a.findings(t, "", head) {
		assert.False(t, f.Muted, f.ID)
		assert.Equal(t, "open", f.Status, "muting never touched the lifecycle")
	}

	events, err := a.store.ReadStream(context.Background(), "mutingrule-"+ruleID, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 2, "created, expired once")
	assert.Equal(t, "MutingRuleExpired", events[1].Type)
	assert.Equal(t, mutingExpiryActor, events[1].Metadata.Actor)
	assert.Equal(t, team, events[1].Metadata.TeamID)
	assert.Contains(t, a.logs.String(), `"msg":"muting rule expired"`)
	assert.Contains(t, a.logs.String(), ruleID)
}

// TestTriageOfImportedFindings: resolving and suppressing a finding an
// import revealed, over HTTP in the running app, and how its lifecycle
// answers.
func TestTriageOfImportedFindings(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	team := a.cfg.DefaultTeam
	pos := a.importInto(t, team, pt.PairScan1()...)
	require.Len(t, a.findings(t, "", pos), 6)
	euWest := pairFinding(team, "cloudtrail_multi_region_enabled", "eu-west-1")
	usEast := pairFinding(team, "cloudtrail_multi_region_enabled", "us-east-1")
	mgmt := pairFinding(team, "cloudtrail_multi_region_enabled_logging_management_events", "us-east-1")

	// Resolve: the first triage starts the finding's triage stream.
	ans := must(t, a.post(t, "/api/v1/findings/"+euWest+"/resolve", map[string]any{"reason": "trail fixed by hand"}), http.StatusAccepted)
	var res api.CommandResult
	ans.data(t, &res)
	assert.Equal(t, "finding-"+euWest, res.StreamID)
	assert.Equal(t, int64(1), res.Version)
	f := findingByID(t, a.findings(t, "status=resolved", ans.env.Meta.Position), euWest)
	assert.Equal(t, "trail fixed by hand", f.Reason)
	assert.False(t, f.Suppressed)
	events, err := a.store.ReadStream(context.Background(), "finding-"+euWest, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, commands.StreamTypeFinding, events[0].StreamType)
	assert.Equal(t, "FindingResolved", events[0].Type)
	assert.Equal(t, team, events[0].Metadata.TeamID)

	ans = must(t, a.post(t, "/api/v1/findings/"+euWest+"/resolve", nil), http.StatusUnprocessableEntity)
	assert.Equal(t, csdomain.CodeFindingAlreadyResolved, ans.env.Error.Code, "twice in a row")

	// Suppress: a mark, the lifecycle untouched.
	until := time.Now().Add(24 * time.Hour)
	ans = must(t, a.post(t, "/api/v1/findings/"+usEast+"/suppress", map[string]any{"reason": "accepted until the org trail", "until": until}), http.StatusAccepted)
	suppressed := a.findings(t, "suppressed=true", ans.env.Meta.Position)
	require.Len(t, suppressed, 1)
	assert.Equal(t, usEast, suppressed[0].ID)
	assert.Equal(t, "open", suppressed[0].Status)
	assert.Equal(t, eventstore.NormalizeTime(until), suppressed[0].SuppressedUntil)
	ans = must(t, a.post(t, "/api/v1/findings/"+usEast+"/suppress", map[string]any{"reason": "again"}), http.StatusUnprocessableEntity)
	assert.Equal(t, csdomain.CodeFindingAlreadySuppressed, ans.env.Error.Code)
	must(t, a.post(t, "/api/v1/findings/"+usEast+"/suppress", map[string]any{"reason": "r", "until": time.Now().Add(-time.Hour)}), http.StatusBadRequest)

	// Unknown ids and another team's findings are 404.
	must(t, a.post(t, "/api/v1/findings/fnd-00000000000000000000000000000000/resolve", nil), http.StatusNotFound)
	other := issueTestKey(t, a, "team-other", "analyst")
	asOther := []string{"Authorization", "Bearer " + other.Key}
	must(t, a.call(t, http.MethodPost, "/api/v1/findings/"+mgmt+"/resolve", nil, asOther...), http.StatusNotFound)
	assert.Empty(t, a.findings(t, "", pos, asOther...))

	// The second scan of the pair fixes every finding it evaluated; a
	// fixed finding has nothing to resolve, a suppressed one stays marked.
	pos = a.importInto(t, team, pt.PairScan2()...)
	all := a.findings(t, "", pos)
	assert.Equal(t, "fixed", findingByID(t, all, mgmt).Status)
	assert.Equal(t, "resolved", findingByID(t, all, euWest).Status, "resolved before the scan fixed it")
	assert.True(t, findingByID(t, all, usEast).Suppressed)
	ans = must(t, a.post(t, "/api/v1/findings/"+mgmt+"/resolve", nil), http.StatusUnprocessableEntity)
	assert.Equal(t, csdomain.CodeFindingAlreadyFixed, ans.env.Error.Code)

	// A scan after the resolution reports it failing again: it reopens,
	// and a person may resolve it again.
	pos = a.importInto(t, team, pt.ImportEventsAt("scan-3", time.Now(), 10,
		pt.Result("cloudtrail_multi_region_enabled", "eu-west-1", pt.Trail("eu-west-1"), csdomain.ResultFail, csdomain.SeverityHigh))...)
	reopened := findingByID(t, a.findings(t, "", pos), euWest)
	assert.Equal(t, "open", reopened.Status)
	ans = must(t, a.post(t, "/api/v1/findings/"+euWest+"/resolve", map[string]any{"reason": "fixed again"}), http.StatusAccepted)
	ans.data(t, &res)
	assert.Equal(t, int64(2), res.Version, "appended to the triage stream")
	assert.Equal(t, "resolved", findingByID(t, a.findings(t, "", ans.env.Meta.Position), euWest).Status)
}

// The expiry scheduler's sweep, on its own: every due rule of every page
// is expired as its team; rule errors (ended already, expiry moved) are
// ignored, other errors logged, and the next sweep tries again.
func TestMutingExpirySweep(t *testing.T) {
	t.Parallel()
	due := &fakeDue{rules: []csquery.DueMutingRule{
		{ID: "r1", TeamID: "team-a"}, {ID: "r2", TeamID: "team-b"}, {ID: "r3", TeamID: "team-a"}, {ID: "r4", TeamID: "team-a"},
	}}
	exp := &fakeExpirer{errs: map[string]error{
		"r2": domain.Rule(csdomain.CodeMutingRuleEnded, "ended"),
		"r3": errors.New("event store unavailable"),
	}}
	var logs lockedBuffer
	m := &mutingExpiry{Interval: time.Minute, due: due, expire: exp, now: func() time.Time { return pt.T0 },
		log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	assert.Equal(t, 2, m.Sweep(context.Background()))
	assert.Equal(t, []string{"team-a/r1", "team-b/r2", "team-a/r3", "team-a/r4"}, exp.calls)
	assert.Equal(t, 2, due.pages, "two pages of three")
	assert.Equal(t, pt.T0, due.now)
	assert.Equal(t, 1, strings.Count(logs.String(), "expiring a muting rule failed"), "a rule error is no failure:\n%s", logs.String())
	assert.Equal(t, 2, strings.Count(logs.String(), `"msg":"muting rule expired"`))

	due.err = errors.New("read models down")
	assert.Zero(t, m.Sweep(context.Background()))
	assert.Contains(t, logs.String(), "listing the muting rules due to expire failed")
}

type fakeDue struct {
	rules []csquery.DueMutingRule
	err   error
	pages int
	now   time.Time
}

func (f *fakeDue) DueMutingRules(_ context.Context, now time.Time, p queries.Page) (csquery.DueMutingRuleList, error) {
	if f.err != nil {
		return csquery.DueMutingRuleList{}, f.err
	}
	f.pages++
	f.now = now
	const size = 3
	start := 0
	if p.Cursor != "" {
		start = len(strings.Repeat("x", len(p.Cursor)))
	}
	end := min(start+size, len(f.rules))
	out := csquery.DueMutingRuleList{Items: f.rules[start:end]}
	if end < len(f.rules) {
		out.NextCursor = strings.Repeat("x", end)
	}
	return out, nil
}

type fakeExpirer struct {
	errs  map[string]error
	calls []string
}

func (f *fakeExpirer) ExpireMutingRule(_ context.Context, meta commands.Meta, cmd cscmd.ExpireMutingRule) (commands.Result, error) {
	f.calls = append(f.calls, meta.TeamID+"/"+cmd.RuleID)
	if meta.Actor != mutingExpiryActor || meta.Route != mutingExpiryRoute {
		return commands.Result{}, errors.New("unexpected meta")
	}
	return commands.Result{ID: cmd.RuleID}, f.errs[cmd.RuleID]
}
