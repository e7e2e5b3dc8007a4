package risk_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/domaintest"
	"github.com/cspm-es/cspm-es/domain/risk"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

// threeByThree is a small matrix: low/med/high both ways.
func threeByThree(name string) risk.MatrixSpec {
	return risk.MatrixSpec{Name: name, Likelihood: []string{"low", "med", "high"}, Impact: []string{"low", "med", "high"},
		Levels: []string{"green", "amber", "red"},
		Cells:  [][]string{{"green", "green", "amber"}, {"green", "amber", "red"}, {"amber", "red", "red"}}}
}

func TestMatrixVersions(t *testing.T) {
	v1 := risk.RiskMatrixDefined{Version: 1, Matrix: threeByThree("3x3"), DefinedAt: day(0)}
	strict := threeByThree("3x3 strict")
	strict.Cells[1][1] = "red"
	v2 := risk.RiskMatrixDefined{Version: 2, Matrix: strict, DefinedAt: day(10)}
	bad := threeByThree("bad")
	bad.Cells[0] = []string{"green", "nope", "red"}
	short := threeByThree("short")
	short.Cells = short.Cells[:2]
	cases := []struct {
		name  string
		given []risk.Event
		when  risk.MatrixSpec
		then  domaintest.Then[risk.Event]
	}{
		{"first definition is version 1", nil, threeByThree("3x3"), domaintest.Then[risk.Event]{Events: []risk.Event{v1}}},
		{"a change is the next version", []risk.Event{v1}, strict, domaintest.Then[risk.Event]{Events: []risk.Event{risk.RiskMatrixDefined{Version: 2, Matrix: strict, DefinedAt: day(10)}}}},
		{"the matrix in force again records nothing", []risk.Event{v1, v2}, strict, domaintest.Then[risk.Event]{RuleCode: risk.CodeMatrixUnchanged}},
		{"a cell outside the levels", nil, bad, domaintest.Then[risk.Event]{Fields: []string{"cells"}}},
		{"a row missing", nil, short, domaintest.Then[risk.Event]{Fields: []string{"cells"}}},
		{"an axis of one label", nil, risk.MatrixSpec{Name: "x", Likelihood: []string{"a"}, Impact: []string{"a", "b"}, Levels: []string{"l", "h"}},
			domaintest.Then[risk.Event]{Fields: []string{"likelihood"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := day(0)
			if len(c.given) > 0 {
				at = day(10)
			}
			got, err := risk.RehydrateMatrix(c.given...).Define(c.when, at)
			domaintest.AssertOutcome(t, c.then, got, err)
		})
	}

	// A score keeps the version it was made under: the same likelihood
	// and impact is amber under version 1 and red under version 2, and
	// version 1 still explains the first score.
	m := risk.RehydrateMatrix(v1, v2)
	cur, n := m.Current()
	require.Equal(t, 2, n)
	s2, err := cur.Score(n, "current", "med", "med")
	require.NoError(t, err)
	assert.Equal(t, risk.Score{Likelihood: "med", Impact: "med", Level: "red", LevelRank: 3, MatrixVersion: 2}, s2)
	old, err := m.Version(1)
	require.NoError(t, err)
	s1, err := old.Score(1, "current", "med", "med")
	require.NoError(t, err)
	assert.Equal(t, "amber", s1.Level)
	_, err = m.Version(3)
	domaintest.AssertOutcome(t, domaintest.Then[risk.Event]{RuleCode: risk.CodeMatrixVersion}, nil, err)
	_, err = cur.Score(2, "current", "huge", "med")
	domaintest.AssertOutcome(t, domaintest.Then[risk.Event]{Fields: []string{"current.likelihood"}}, nil, err)
	// Before any definition the default 5x5 applies, as version 0.
	def, n0 := risk.RehydrateMatrix().Current()
	assert.Equal(t, 0, n0)
	s, err := def.Score(0, "inherent", "almost_certain", "severe")
	require.NoError(t, err)
	assert.Equal(t, "critical", s.Level)
	assert.NoError(t, risk.CheckMatrix(risk.DefaultMatrix()))
}

var identified = risk.RiskIdentified{RiskID: "r1", Title: "Public bucket leaks data", Owner: "alice",
	Links: risk.Links{Assets: []string{"ast-1"}, Findings: []string{"fnd-1"}}, IdentifiedAt: day(0)}

func plan(tasks ...risk.Task) risk.TreatmentPlanned {
	return risk.TreatmentPlanned{RiskID: "r1", PlanID: "p1", Strategy: risk.Mitigate, Owner: "bob", DueDate: day(30), Tasks: tasks, PlannedAt: day(1)}
}

func TestRiskScenario(t *testing.T) {
	sc := risk.Score{Likelihood: "med", Impact: "high", Level: "red", LevelRank: 3, MatrixVersion: 1}
	closed := risk.RiskClosed{RiskID: "r1", Reason: "bucket deleted", ClosedAt: day(5)}
	cases := []struct {
		name  string
		given []risk.Event
		when  func(r *risk.Risk) ([]risk.Event, error)
		then  domaintest.Then[risk.Event]
	}{
		{"identify with an inherent score", nil, func(*risk.Risk) ([]risk.Event, error) {
			return risk.IdentifyRisk("r1", risk.ScenarioSpec{Title: " Public bucket leaks data ", Owner: "alice",
				Links: risk.Links{Assets: []string{"ast-1", "ast-1", " "}, Findings: []string{"fnd-1"}}}, &sc, day(0))
		}, domaintest.Then[risk.Event]{Events: []risk.Event{identified, risk.RiskScored{RiskID: "r1", Kind: risk.Inherent, Score: sc, ScoredAt: day(0)}}}},
		{"identify without title or owner", nil, func(*risk.Risk) ([]risk.Event, error) {
			return risk.IdentifyRisk("r1", risk.ScenarioSpec{}, nil, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"title", "owner"}}},
		{"score the residual level", []risk.Event{identified}, func(r *risk.Risk) ([]risk.Event, error) {
			return r.ScoreRisk(risk.Residual, sc, "after encryption", day(2))
		}, domaintest.Then[risk.Event]{Events: []risk.Event{risk.RiskScored{RiskID: "r1", Kind: risk.Residual, Score: sc, Note: "after encryption", ScoredAt: day(2)}}}},
		{"an unknown kind", []risk.Event{identified}, func(r *risk.Risk) ([]risk.Event, error) { return r.ScoreRisk("future", sc, "", day(2)) },
			domaintest.Then[risk.Event]{Fields: []string{"kind"}}},
		{"a closed risk takes no score", []risk.Event{identified, closed}, func(r *risk.Risk) ([]risk.Event, error) { return r.ScoreRisk(risk.Current, sc, "", day(6)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeRiskClosed}},
		{"a risk never identified", nil, func(r *risk.Risk) ([]risk.Event, error) { return r.Close("x", day(1)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeRiskUnknown}},
		{"plan a treatment", []risk.Event{identified}, func(r *risk.Risk) ([]risk.Event, error) {
			return r.PlanTreatment(risk.Plan{PlanID: "p1", Strategy: risk.Mitigate, Owner: "bob", DueDate: day(30),
				Tasks: []risk.Task{{Title: "block public access"}, {Title: "encrypt", Status: risk.TaskDone}}}, day(1))
		}, domaintest.Then[risk.Event]{Events: []risk.Event{plan(risk.Task{TaskID: "1", Title: "block public access", Status: risk.TaskTodo},
			risk.Task{TaskID: "2", Title: "encrypt", Status: risk.TaskDone})}}},
		{"a plan with a bad strategy, no owner, no due date", []risk.Event{identified}, func(r *risk.Risk) ([]risk.Event, error) {
			return r.PlanTreatment(risk.Plan{PlanID: "p1", Strategy: "ignore"}, day(1))
		}, domaintest.Then[risk.Event]{Fields: []string{"strategy", "owner", "due_date"}}},
		{"a task moves on", []risk.Event{identified, plan(risk.Task{TaskID: "1", Title: "t", Status: risk.TaskTodo})}, func(r *risk.Risk) ([]risk.Event, error) {
			return r.UpdateTask("p1", "1", risk.TaskDone, day(3))
		}, domaintest.Then[risk.Event]{Events: []risk.Event{risk.TreatmentTaskUpdated{RiskID: "r1", PlanID: "p1", TaskID: "1", Status: risk.TaskDone, UpdatedAt: day(3)}}}},
		{"a task of no plan", []risk.Event{identified}, func(r *risk.Risk) ([]risk.Event, error) { return r.UpdateTask("p9", "1", risk.TaskDone, day(3)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodePlanUnknown}},
		{"a task already in that status", []risk.Event{identified, plan(risk.Task{TaskID: "1", Title: "t", Status: risk.TaskTodo})}, func(r *risk.Risk) ([]risk.Event, error) {
			return r.UpdateTask("p1", "1", risk.TaskTodo, day(3))
		}, domaintest.Then[risk.Event]{RuleCode: risk.CodeTaskUnchanged}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.when(risk.RehydrateRisk(c.given...))
			domaintest.AssertOutcome(t, c.then, got, err)
		})
	}
}

func TestTreatmentProgress(t *testing.T) {
	task := func(id, status string) risk.Task { return risk.Task{TaskID: id, Title: id, Status: status} }
	cases := []struct {
		name  string
		given []risk.Event
		want  int
	}{
		{"no tasks", []risk.Event{identified, plan()}, 0},
		{"one of two done", []risk.Event{identified, plan(task("a", risk.TaskDone), task("b", risk.TaskTodo))}, 50},
		{"cancelled tasks do not count", []risk.Event{identified, plan(task("a", risk.TaskDone), task("b", risk.TaskCancelled))}, 100},
		{"only cancelled", []risk.Event{identified, plan(task("a", risk.TaskCancelled))}, 0},
		{"rounded down", []risk.Event{identified, plan(task("a", risk.TaskDone), task("b", risk.TaskInProgress), task("c", risk.TaskTodo))}, 33},
		{"a task done later", []risk.Event{identified, plan(task("a", risk.TaskTodo), task("b", risk.TaskTodo)),
			risk.TreatmentTaskUpdated{RiskID: "r1", PlanID: "p1", TaskID: "b", Status: risk.TaskDone, UpdatedAt: day(4)}}, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := risk.RehydrateRisk(c.given...).View()
			require.Len(t, v.Plans, 1)
			assert.Equal(t, c.want, v.Plans[0].Progress())
		})
	}
}

func TestKRIThresholds(t *testing.T) {
	up := risk.KRISpec{Name: "open criticals", Unit: "findings", Direction: risk.HigherIsWorse, Amber: 5, Red: 10, Source: risk.SourceManual}
	down := risk.KRISpec{Name: "patch coverage", Unit: "%", Direction: risk.LowerIsWorse, Amber: 90, Red: 75, Source: risk.SourceManual}
	cases := []struct {
		spec  risk.KRISpec
		value float64
		want  string
	}{
		{up, 0, risk.Green}, {up, 4.9, risk.Green}, {up, 5, risk.Amber}, {up, 9, risk.Amber}, {up, 10, risk.Red}, {up, 99, risk.Red},
		{down, 100, risk.Green}, {down, 90.5, risk.Green}, {down, 90, risk.Amber}, {down, 76, risk.Amber}, {down, 75, risk.Red}, {down, 0, risk.Red},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.spec.State(c.value), "%s %v", c.spec.Direction, c.value)
	}

	defined := risk.KRIDefined{KRIID: "k1", Spec: up, DefinedAt: day(0)}
	computed := up
	computed.Source, computed.Account = risk.SourceOpenCriticalFindings, "123456789012"
	defs := []struct {
		name  string
		given []risk.Event
		when  func(k *risk.KRI) ([]risk.Event, error)
		then  domaintest.Then[risk.Event]
	}{
		{"define", nil, func(*risk.KRI) ([]risk.Event, error) { return risk.DefineKRI("k1", up, day(0)) }, domaintest.Then[risk.Event]{Events: []risk.Event{defined}}},
		{"red below amber when higher is worse", nil, func(*risk.KRI) ([]risk.Event, error) {
			s := up
			s.Red = 1
			return risk.DefineKRI("k1", s, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"red"}}},
		{"a computed source needs its account", nil, func(*risk.KRI) ([]risk.Event, error) {
			s := up
			s.Source = risk.SourceOpenCriticalFindings
			return risk.DefineKRI("k1", s, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"account"}}},
		{"measure a manual KRI in the past", []risk.Event{defined}, func(k *risk.KRI) ([]risk.Event, error) { return k.Measure(7, "", day(-3)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{risk.KRIMeasured{KRIID: "k1", Value: 7, MeasuredAt: day(-3)}}}},
		{"a computed KRI takes no measurement", []risk.Event{risk.KRIDefined{KRIID: "k1", Spec: computed, DefinedAt: day(0)}},
			func(k *risk.KRI) ([]risk.Event, error) { return k.Measure(7, "", day(1)) }, domaintest.Then[risk.Event]{RuleCode: risk.CodeKRIComputed}},
		{"the source cannot change", []risk.Event{defined}, func(k *risk.KRI) ([]risk.Event, error) { return k.Redefine(computed, day(1)) },
			domaintest.Then[risk.Event]{Fields: []string{"source"}}},
		{"a retired KRI takes no measurement", []risk.Event{defined, risk.KRIRetired{KRIID: "k1", RetiredAt: day(1)}},
			func(k *risk.KRI) ([]risk.Event, error) { return k.Measure(1, "", day(2)) }, domaintest.Then[risk.Event]{RuleCode: risk.CodeKRIRetired}},
	}
	for _, c := range defs {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.when(risk.RehydrateKRI(c.given...))
			domaintest.AssertOutcome(t, c.then, got, err)
		})
	}
}

// TestComputedKRIObserved: the observer records a computed KRI's breach
// state when it changes, and its value when it moves while amber or red;
// the same point again, or an older one, records nothing.
func TestComputedKRIObserved(t *testing.T) {
	spec := risk.KRISpec{Name: "criticals of prod", Unit: "findings", Direction: risk.HigherIsWorse, Amber: 1, Red: 3,
		Source: risk.SourceOpenCriticalFindings, Account: "123456789012"}
	defined := risk.KRIDefined{KRIID: "k1", Spec: spec, DefinedAt: day(0)}
	seen := func(v float64, state string, at int) risk.ComputedKRIObserved {
		return risk.ComputedKRIObserved{KRIID: "k1", Value: v, State: state, MeasuredAt: day(at), ObservedAt: day(9)}
	}
	manual := spec
	manual.Source, manual.Account = risk.SourceManual, ""
	cases := []struct {
		name  string
		given []risk.Event
		value float64
		at    int
		then  domaintest.Then[risk.Event]
	}{
		{"a first point is recorded, green or not", []risk.Event{defined}, 0, 1, domaintest.Then[risk.Event]{Events: []risk.Event{seen(0, risk.Green, 1)}}},
		{"into breach", []risk.Event{defined, seen(0, risk.Green, 1)}, 3, 2, domaintest.Then[risk.Event]{Events: []risk.Event{seen(3, risk.Red, 2)}}},
		{"the same point again: nothing", []risk.Event{defined, seen(3, risk.Red, 2)}, 3, 2, domaintest.Then[risk.Event]{}},
		{"a new value while red", []risk.Event{defined, seen(3, risk.Red, 2)}, 5, 3, domaintest.Then[risk.Event]{Events: []risk.Event{seen(5, risk.Red, 3)}}},
		{"a new value while green: nothing", []risk.Event{defined, seen(0, risk.Green, 1)}, 0.5, 3, domaintest.Then[risk.Event]{}},
		{"back to green", []risk.Event{defined, seen(5, risk.Red, 3)}, 0, 4, domaintest.Then[risk.Event]{Events: []risk.Event{seen(0, risk.Green, 4)}}},
		{"an older point: nothing", []risk.Event{defined, seen(5, risk.Red, 3)}, 0, 2, domaintest.Then[risk.Event]{}},
		{"new thresholds change the state of the same value", []risk.Event{defined, seen(2, risk.Amber, 3),
			risk.KRIDefined{KRIID: "k1", Spec: func() risk.KRISpec { s := spec; s.Red = 2; return s }(), DefinedAt: day(4)}},
			2, 3, domaintest.Then[risk.Event]{Events: []risk.Event{seen(2, risk.Red, 3)}}},
		{"a manual KRI is not observed", []risk.Event{risk.KRIDefined{KRIID: "k1", Spec: manual, DefinedAt: day(0)}}, 1, 1,
			domaintest.Then[risk.Event]{RuleCode: risk.CodeKRIManual}},
		{"a retired KRI is not observed", []risk.Event{defined, risk.KRIRetired{KRIID: "k1", RetiredAt: day(1)}}, 1, 2,
			domaintest.Then[risk.Event]{RuleCode: risk.CodeKRIRetired}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := risk.RehydrateKRI(c.given...).Observe(c.value, day(c.at), day(9))
			domaintest.AssertOutcome(t, c.then, got, err)
		})
	}
}

func TestAcceptance(t *testing.T) {
	accepted := risk.RiskAccepted{AcceptanceID: "a1", Scope: risk.Scope{FindingIDs: []string{"fnd-1", "fnd-2"}}, Reason: "compensating control",
		Approver: "ciso", ExpiresAt: day(30), AcceptedAt: day(0)}
	fixed1 := risk.AcceptedItemFixed{AcceptanceID: "a1", ItemID: "fnd-1", Module: risk.ModuleFindings, FixedAt: day(3)}
	ruled := risk.RiskAccepted{AcceptanceID: "a2", Scope: risk.Scope{Rule: &risk.AcceptanceRule{Module: risk.ModuleVulnerabilities, VulnerabilityIDs: []string{"CVE-2024-1"}}},
		Reason: "r", Approver: "ciso", ExpiresAt: day(30), AcceptedAt: day(0)}
	cases := []struct {
		name  string
		given []risk.Event
		when  func(a *risk.Acceptance) ([]risk.Event, error)
		then  domaintest.Then[risk.Event]
		state string
	}{
		{"accept two findings", nil, func(*risk.Acceptance) ([]risk.Event, error) {
			return risk.Accept("a1", risk.AcceptanceSpec{Scope: risk.Scope{FindingIDs: []string{"fnd-2", "fnd-1", "fnd-2"}}, Reason: "compensating control",
				Approver: "ciso", ExpiresAt: day(30)}, day(0))
		}, domaintest.Then[risk.Event]{Events: []risk.Event{accepted}}, ""},
		{"no expiry, no reason, no approver, empty scope", nil, func(*risk.Acceptance) ([]risk.Event, error) {
			return risk.Accept("a1", risk.AcceptanceSpec{}, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"reason", "approver", "expires_at", "scope"}}, ""},
		{"an expiry past three years", nil, func(*risk.Acceptance) ([]risk.Event, error) {
			return risk.Accept("a1", risk.AcceptanceSpec{Scope: risk.Scope{OccurrenceIDs: []string{"o"}}, Reason: "r", Approver: "c", ExpiresAt: day(4 * 365)}, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"expires_at"}}, ""},
		{"a rule of vulnerabilities needs its ids", nil, func(*risk.Acceptance) ([]risk.Event, error) {
			return risk.Accept("a1", risk.AcceptanceSpec{Scope: risk.Scope{Rule: &risk.AcceptanceRule{Module: risk.ModuleVulnerabilities}}, Reason: "r", Approver: "c", ExpiresAt: day(4)}, day(0))
		}, domaintest.Then[risk.Event]{Fields: []string{"scope.rule.vulnerability_ids"}}, ""},
		{"not expired before its expiry", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.Expire(day(29)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeAcceptanceNotDue}, risk.AcceptanceActive},
		{"expired at its expiry, dated at it", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.Expire(day(31)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{risk.RiskAcceptanceExpired{AcceptanceID: "a1", ExpiredAt: day(30)}}}, risk.AcceptanceActive},
		{"expired once", []risk.Event{accepted, risk.RiskAcceptanceExpired{AcceptanceID: "a1", ExpiredAt: day(30)}}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.Expire(day(32)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeAcceptanceEnded}, risk.AcceptanceExpired},
		{"an item fixed while accepted closes the acceptance for it", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("fnd-1", day(3)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{fixed1}}, risk.AcceptanceActive},
		{"the last item fixed closes it", []risk.Event{accepted, fixed1}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("fnd-2", day(4)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{risk.AcceptedItemFixed{AcceptanceID: "a1", ItemID: "fnd-2", Module: risk.ModuleFindings, FixedAt: day(4)}}}, risk.AcceptanceActive},
		{"a closed acceptance does not expire", []risk.Event{accepted, fixed1, risk.AcceptedItemFixed{AcceptanceID: "a1", ItemID: "fnd-2", Module: risk.ModuleFindings, FixedAt: day(4)}},
			func(a *risk.Acceptance) ([]risk.Event, error) { return a.Expire(day(31)) }, domaintest.Then[risk.Event]{RuleCode: risk.CodeAcceptanceEnded}, risk.AcceptanceClosed},
		{"an item fixed twice", []risk.Event{accepted, fixed1}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("fnd-1", day(5)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeItemNotAccepted}, risk.AcceptanceActive},
		{"an item it does not accept", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("fnd-9", day(5)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeItemNotAccepted}, risk.AcceptanceActive},
		{"a fix after the expiry is not one while accepted", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("fnd-1", day(30)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeItemNotAccepted}, risk.AcceptanceActive},
		{"an item a rule accepted is fixed: closed for it, the rule's acceptance goes on", []risk.Event{ruled},
			func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("occ-7", day(3)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{risk.AcceptedItemFixed{AcceptanceID: "a2", ItemID: "occ-7", Module: risk.ModuleVulnerabilities, FixedAt: day(3)}}}, risk.AcceptanceActive},
		{"the same item of a rule fixed twice", []risk.Event{ruled, risk.AcceptedItemFixed{AcceptanceID: "a2", ItemID: "occ-7", Module: risk.ModuleVulnerabilities, FixedAt: day(3)}},
			func(a *risk.Acceptance) ([]risk.Event, error) { return a.ItemFixed("occ-7", day(4)) },
			domaintest.Then[risk.Event]{RuleCode: risk.CodeItemNotAccepted}, risk.AcceptanceActive},
		{"revoked", []risk.Event{accepted}, func(a *risk.Acceptance) ([]risk.Event, error) { return a.Revoke("control removed", day(2)) },
			domaintest.Then[risk.Event]{Events: []risk.Event{risk.RiskAcceptanceRevoked{AcceptanceID: "a1", Reason: "control removed", RevokedAt: day(2)}}}, risk.AcceptanceActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := risk.RehydrateAcceptance(c.given...)
			if c.state != "" {
				assert.Equal(t, c.state, a.View().Status)
			}
			got, err := c.when(a)
			domaintest.AssertOutcome(t, c.then, got, err)
		})
	}
}

func TestAcceptanceRuleMatches(t *testing.T) {
	vulns := risk.AcceptanceRule{Module: risk.ModuleVulnerabilities, VulnerabilityIDs: []string{"CVE-2024-1"}}
	checks := risk.AcceptanceRule{Module: risk.ModuleFindings, Checks: []string{"s3_public"}}
	inAccount := risk.AcceptanceRule{Module: risk.ModuleFindings, Checks: []string{"s3_public"}, Accounts: []string{"111"}}
	cases := []struct {
		name                         string
		given                        risk.AcceptanceRule
		module, vuln, check, account string
		then                         bool
	}{
		{"an occurrence of a listed CVE", vulns, risk.ModuleVulnerabilities, "CVE-2024-1", "", "", true},
		{"an occurrence of another CVE", vulns, risk.ModuleVulnerabilities, "CVE-2024-2", "", "", false},
		{"a finding is not an occurrence", vulns, risk.ModuleFindings, "CVE-2024-1", "", "", false},
		{"a finding of a listed check, any account", checks, risk.ModuleFindings, "", "s3_public", "999", true},
		{"a finding of another check", checks, risk.ModuleFindings, "", "iam_root_mfa", "999", false},
		{"a listed check in a listed account", inAccount, risk.ModuleFindings, "", "s3_public", "111", true},
		{"a listed check in another account", inAccount, risk.ModuleFindings, "", "s3_public", "999", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.then, c.given.Matches(c.module, c.vuln, c.check, c.account))
		})
	}
}
