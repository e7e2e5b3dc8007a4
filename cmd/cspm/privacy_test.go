package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/eventstore"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	riskquery "github.com/cspm-es/cspm-es/queries/risk"
)

// waitForgetRebuilt waits until each projection's latest rebuild in the app is done.
func waitForgetRebuilt(t *testing.T, a *testApp, names []string, after time.Time) {
	t.Helper()
	eventually(t, 60*time.Second, "rebuild of "+strings.Join(names, ", "), func() bool {
		st := a.projections(t)
		for _, n := range names {
			r := st[n].Rebuild
			if r == nil || r.StartedAt.Before(after.Add(-time.Second)) || r.Phase != api.RebuildDone {
				require.False(t, r != nil && r.Phase == api.RebuildFailed, "rebuild of %s failed: %s", n, r.Error)
				return false
			}
		}
		return true
	})
}

// TestPrivacy_ForgetErasesEveryPath: in the running app, a person owns a
// risk and a muting rule (whose justification they wrote). Their data is
// stored sealed (the store, an export, the bus see ciphertext only) and
// read clear. Forgetting them through the API destroys their key and
// rebuilds the read models built before: the risk register and the muting
// rules show [erased]; replay shows [erased]; the export never held the
// clear value; the logs never did; verify passes; a rebuild gives the
// same read models; another person's and another team's data is intact.
func TestPrivacy_ForgetErasesEveryPath(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	const erin, frank = "Erin.Doe@Example.com", "frank@example.com"
	const why = "Erin explains: the trail is planned for Q3"

	var res api.CommandResult
	must(t, a.post(t, "/api/v1/risks", map[string]any{"title": "shared admin account", "owner": erin}), http.StatusCreated).data(t, &res)
	riskID := res.ID
	must(t, a.post(t, "/api/v1/risks", map[string]any{"title": "stale backups", "owner": frank}), http.StatusCreated).data(t, &res)
	otherRisk := res.ID
	rule := must(t, a.post(t, "/api/v1/muting-rules", map[string]any{
		"name": "trail", "reason": why, "owner": "erin.doe@example.com",
		"match": map[string]any{"checks": []string{"cloudtrail_multi_region_enabled"}},
	}), http.StatusCreated)
	rule.data(t, &res)
	ruleID := res.ID
	must(t, a.post(t, "/api/v1/bias", map[string]any{"title": "payroll", "owner": erin}), http.StatusCreated).data(t, &res)
	biaID := res.ID
	model := must(t, a.post(t, "/api/v1/ai/models", map[string]any{"name": "scorer", "version": "1.0", "owner": erin, "status": "staging"}), http.StatusCreated)
	model.data(t, &res)
	modelID, pos := res.ID, model.env.Meta.Position
	// The other modules' views, raw: before the forget they show Erin.
	views := []string{"/api/v1/bias/" + biaID, "/api/v1/bias/" + biaID + "/changes", "/api/v1/ai/models/" + modelID, "/api/v1/bias", "/api/v1/ai/models"}
	rawView := func(path string) string {
		var body string
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		eventually(t, 30*time.Second, path, func() bool {
			ans := a.get(t, path+sep+"min_position="+itoa(pos))
			body = strings.ToLower(string(ans.raw))
			return ans.status == http.StatusOK && !stale(ans)
		})
		return body
	}
	for _, v := range []string{views[0], views[2]} {
		assert.Contains(t, rawView(v), "erin", v)
	}

	// Read clear before (the read models are built with the clear values).
	getRisk := func(id string) riskquery.Risk {
		var r riskquery.Risk
		eventually(t, 30*time.Second, "risk "+id, func() bool {
			ans := a.get(t, "/api/v1/risks/"+id+"?min_position="+itoa(pos))
			if ans.status != http.StatusOK || stale(ans) {
				return false
			}
			ans.data(t, &r)
			return true
		})
		return r
	}
	getRule := func() csquery.MutingRule {
		var r csquery.MutingRule
		eventually(t, 30*time.Second, "muting rule", func() bool {
			ans := a.get(t, "/api/v1/muting-rules/"+ruleID+"?min_position="+itoa(pos))
			if ans.status != http.StatusOK || stale(ans) {
				return false
			}
			ans.data(t, &r)
			return true
		})
		return r
	}
	assert.Equal(t, erin, getRisk(riskID).Owner)
	assert.Equal(t, why, getRule().Reason)

	// Stored sealed: no event holds the clear value.
	ctx := context.Background()
	all, err := a.store.ReadAll(ctx, 0, 1000)
	require.NoError(t, err)
	for _, e := range all {
		low := strings.ToLower(string(e.Data))
		assert.NotContains(t, low, "erin", "%s at %d", e.Type, e.Position)
		assert.NotContains(t, low, "frank", "%s at %d", e.Type, e.Position)
	}

	// Forget Erin (another spelling of the same address).
	started := time.Now()
	ans := must(t, a.post(t, "/api/v1/privacy/subjects/"+"%20erin.doe%40EXAMPLE.com/forget", nil), http.StatusAccepted)
	var f api.ForgetResult
	ans.data(t, &f)
	assert.True(t, f.KeyExisted)
	assert.Empty(t, f.RebuildRequired)
	for _, n := range []string{"risk.register", "cloudsecurity.findings"} {
		assert.Contains(t, f.Rebuilding, n)
	}
	assert.NotContains(t, f.Rebuilding, "platform.audit_log", "the audit log holds no personal field")
	waitForgetRebuilt(t, a, f.Rebuilding, started)

	pos = f.Position
	r := getRisk(riskID)
	assert.Equal(t, eventstore.Erased, r.Owner, "the read model built before the erasure is corrected")
	assert.Equal(t, "shared admin account", r.Title)
	assert.Equal(t, frank, getRisk(otherRisk).Owner, "another person is untouched")
	m := getRule()
	assert.Equal(t, eventstore.Erased, m.Owner)
	assert.Equal(t, eventstore.Erased, m.Reason, "the text Erin wrote goes with Erin")
	for _, v := range views {
		assert.NotContains(t, rawView(v), "erin", v)
	}
	assert.Contains(t, rawView(views[0]), eventstore.Erased)
	var list []riskquery.Risk
	must(t, a.get(t, "/api/v1/risks?min_position="+itoa(pos)), http.StatusOK).data(t, &list)
	for _, x := range list {
		assert.NotContains(t, strings.ToLower(x.Owner), "erin")
	}

	// verify passes: nothing was rewritten.
	v := a.cli(t, nil, "events", "verify", "--json")
	require.Equal(t, exitOK, v.code, "stdout:\n%s\nstderr:\n%s", v.stdout, v.stderr)
	var rep eventstore.VerifyReport
	require.NoError(t, json.Unmarshal([]byte(v.stdout), &rep))
	assert.Nil(t, rep.Broken)

	// The export (what an archive holds) and the replay never show Erin.
	out := filepath.Join(t.TempDir(), "events.jsonl")
	x := a.cli(t, nil, "events", "export", "--out", out)
	require.Equal(t, exitOK, x.code, x.stderr)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.NotContains(t, strings.ToLower(string(raw)), "erin")
	assert.Contains(t, string(raw), "DataSubjectForgotten")
	rp := a.cli(t, nil, "events", "replay", "--stream", "mutingrule-"+ruleID, "--json")
	require.Equal(t, exitOK, rp.code, rp.stderr)
	assert.NotContains(t, strings.ToLower(rp.stdout), "erin")
	assert.Contains(t, rp.stdout, `"owner": "`+eventstore.Erased+`"`)

	// The audit views: stored data (sealed) and the state (erased).
	st := must(t, a.get(t, "/api/v1/audit/streams/mutingrule-"+ruleID+"/state"), http.StatusOK)
	assert.NotContains(t, strings.ToLower(string(st.raw)), "erin")
	ev := must(t, a.get(t, "/api/v1/audit/streams/mutingrule-"+ruleID+"/events"), http.StatusOK)
	assert.NotContains(t, strings.ToLower(string(ev.raw)), "erin")

	// A rebuild after the erasure gives the same read models.
	before := getRisk(riskID)
	again := time.Now()
	rb := a.cli(t, nil, "projections", "rebuild", "risk.register", "--server", a.base)
	require.Equal(t, exitOK, rb.code, rb.stderr)
	waitForgetRebuilt(t, a, []string{"risk.register"}, again)
	assert.Equal(t, before, getRisk(riskID))

	// The logs never held the clear values.
	logs := strings.ToLower(a.logs.String())
	assert.NotContains(t, logs, "erin")
	assert.Contains(t, logs, f.SubjectID, "the forget is logged by subject id")
}

// TestPrivacy_ForgetCLI: `cspm privacy forget` forgets through the server
// and follows the rebuild; bad input is a usage error and nothing is
// appended; another team's data about the same person stays.
func TestPrivacy_ForgetCLI(t *testing.T) {
	t.Parallel()
	a := startApp(t, nil)
	var res api.CommandResult
	created := must(t, a.post(t, "/api/v1/risks", map[string]any{"title": "t", "owner": "gina@example.com"}), http.StatusCreated)
	created.data(t, &res)
	riskID := res.ID

	r := a.cli(t, nil, "privacy", "forget", "Gina@example.com", "--server", a.base)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `^forgotten: subject id [0-9a-f]{40} \(key destroyed: true\), position \d+\n`, r.stdout)
	assert.Contains(t, r.stdout, "risk.register")
	assert.NotContains(t, strings.ToLower(r.stdout+r.stderr), "gina")

	head, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	var got riskquery.Risk
	must(t, a.get(t, "/api/v1/risks/"+riskID+"?min_position="+itoa(head)), http.StatusOK).data(t, &got)
	assert.Equal(t, eventstore.Erased, got.Owner)

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"privacy", "forget", "--server", a.base}, exitUsage, "give the SUBJECT"},
		{[]string{"privacy", "forget", "a", "b", "--server", a.base}, exitUsage, `unexpected argument "b"`},
		{[]string{"privacy", "forget", strings.Repeat("x", 400), "--server", a.base}, exitFailure, "400"},
	} {
		r := a.cli(t, nil, tt.args...)
		assert.Equal(t, tt.code, r.code, "%v: %s", tt.args, r.stderr)
		assert.Contains(t, r.stderr, tt.want, "%v", tt.args)
	}
	after, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	assert.Equal(t, head, after, "nothing appended by the refused commands")
	assert.True(t, slices.Contains(personalProjections(moduleProjections(), eventstore.NewDomainCodec()), "risk.register"))
}
