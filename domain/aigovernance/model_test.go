package aigovernance_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	. "github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

var (
	t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

type then = domaintest.Then[Event]

func registered(status string) ModelRegistered {
	return ModelRegistered{ModelID: "m1", Name: "credit-scoring", Version: "1.0", Owner: "risk-team", Status: status,
		Assets: []string{"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/credit"}, RegisteredAt: t0}
}

func classified(c RiskClass) ModelRiskClassified {
	return ModelRiskClassified{ModelID: "m1", RiskClass: c, Rationale: "Annex III 5(b): creditworthiness", ClassifiedAt: t0}
}

func TestRegisterModel(t *testing.T) {
	cases := []struct {
		name string
		when ModelSpec
		then then
	}{
		{"development by default, lists cleaned",
			ModelSpec{Name: " credit-scoring ", Version: "1.0", Owner: "risk-team", DataCategories: []string{"financial", " financial", "personal"}},
			then{Events: []Event{ModelRegistered{ModelID: "m1", Name: "credit-scoring", Version: "1.0", Owner: "risk-team",
				DataCategories: []string{"financial", "personal"}, Status: StatusDevelopment, RegisteredAt: t1}}}},
		{"an unclassified model may start in production",
			ModelSpec{Name: "x", Version: "1", Owner: "o", Status: StatusProduction},
			then{Events: []Event{ModelRegistered{ModelID: "m1", Name: "x", Version: "1", Owner: "o", Status: StatusProduction, RegisteredAt: t1}}}},
		{"name, version, owner required", ModelSpec{}, then{Fields: []string{"name", "version", "owner"}}},
		{"retired is not a starting status", ModelSpec{Name: "x", Version: "1", Owner: "o", Status: StatusRetired}, then{Fields: []string{"status"}}},
		{"a version has no spaces", ModelSpec{Name: "x", Version: "1 0", Owner: "o"}, then{Fields: []string{"version"}}},
		{"an empty asset id", ModelSpec{Name: "x", Version: "1", Owner: "o", Assets: []string{""}}, then{Fields: []string{"assets[0]"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RegisterModel("m1", tc.when, t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestModelStatusAndClassification(t *testing.T) {
	retired := ModelRetired{ModelID: "m1", From: StatusDevelopment, RetiredAt: t0}
	cases := []struct {
		name  string
		given []Event
		when  func(*Model) ([]Event, error)
		then  then
	}{
		{"to production", []Event{registered(StatusStaging)},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusProduction, "alice", t1) },
			then{Events: []Event{ModelStatusChanged{ModelID: "m1", From: StatusStaging, To: StatusProduction, ChangedBy: "alice", ChangedAt: t1}}}},
		{"the same status appends nothing", []Event{registered(StatusStaging)},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusStaging, "alice", t1) }, then{}},
		{"a prohibited model is not deployed", []Event{registered(StatusStaging), classified(Prohibited)},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusProduction, "alice", t1) },
			then{RuleCode: CodeProhibitedDeployment}},
		{"a prohibited model may stay in development", []Event{registered(StatusStaging), classified(Prohibited)},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusDevelopment, "alice", t1) },
			then{Events: []Event{ModelStatusChanged{ModelID: "m1", From: StatusStaging, To: StatusDevelopment, ChangedBy: "alice", ChangedAt: t1}}}},
		{"retired only by retire", []Event{registered(StatusStaging)},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusRetired, "alice", t1) }, then{Fields: []string{"status"}}},
		{"a retired model takes no command", []Event{registered(StatusDevelopment), retired},
			func(m *Model) ([]Event, error) { return m.ChangeStatus(StatusStaging, "alice", t1) }, then{RuleCode: CodeModelRetired}},
		{"a first classification", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) { return m.Classify(HighRisk, " Annex III 5(b) ", "dpo", t1) },
			then{Events: []Event{ModelRiskClassified{ModelID: "m1", RiskClass: HighRisk, Rationale: "Annex III 5(b)", ClassifiedBy: "dpo", ClassifiedAt: t1}}}},
		{"a reclassification names the previous class", []Event{registered(StatusDevelopment), classified(HighRisk)},
			func(m *Model) ([]Event, error) { return m.Classify(Limited, "chatbot only", "dpo", t1) },
			then{Events: []Event{ModelRiskClassified{ModelID: "m1", RiskClass: Limited, PreviousClass: HighRisk, Rationale: "chatbot only", ClassifiedBy: "dpo", ClassifiedAt: t1}}}},
		{"the same class and rationale appends nothing", []Event{registered(StatusDevelopment), classified(HighRisk)},
			func(m *Model) ([]Event, error) {
				return m.Classify(HighRisk, "Annex III 5(b): creditworthiness", "dpo", t1)
			}, then{}},
		{"a model in production is not classified prohibited", []Event{registered(StatusProduction)},
			func(m *Model) ([]Event, error) { return m.Classify(Prohibited, "social scoring", "dpo", t1) },
			then{RuleCode: CodeProhibitedDeployment}},
		{"class and rationale required", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) { return m.Classify("severe", " ", "dpo", t1) },
			then{Fields: []string{"risk_class", "rationale"}}},
		{"a new version", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) { return m.ReleaseVersion("1.1", "retrained", t1) },
			then{Events: []Event{ModelVersionReleased{ModelID: "m1", Version: "1.1", PreviousVersion: "1.0", Notes: "retrained", ReleasedAt: t1}}}},
		{"a version the model had", []Event{registered(StatusDevelopment), ModelVersionReleased{ModelID: "m1", Version: "1.1", PreviousVersion: "1.0"}},
			func(m *Model) ([]Event, error) { return m.ReleaseVersion("1.0", "", t1) }, then{RuleCode: CodeVersionExists}},
		{"link: only new assets", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) {
				return m.LinkAssets([]string{"i-2", "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/credit"}, t1)
			},
			then{Events: []Event{ModelAssetsLinked{ModelID: "m1", Assets: []string{"i-2"}, LinkedAt: t1}}}},
		{"link: all linked already appends nothing", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) {
				return m.LinkAssets([]string{"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/credit"}, t1)
			}, then{}},
		{"unlink: only linked assets", []Event{registered(StatusDevelopment), ModelAssetsLinked{ModelID: "m1", Assets: []string{"i-2"}}},
			func(m *Model) ([]Event, error) { return m.UnlinkAssets([]string{"i-2", "i-9"}, t1) },
			then{Events: []Event{ModelAssetsUnlinked{ModelID: "m1", Assets: []string{"i-2"}, UnlinkedAt: t1}}}},
		{"unlink: none given", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) { return m.UnlinkAssets(nil, t1) }, then{Fields: []string{"assets"}}},
		{"retire", []Event{registered(StatusProduction)},
			func(m *Model) ([]Event, error) { return m.Retire("replaced", "alice", t1) },
			then{Events: []Event{ModelRetired{ModelID: "m1", From: StatusProduction, Reason: "replaced", RetiredBy: "alice", RetiredAt: t1}}}},
		{"retire twice", []Event{registered(StatusProduction), retired},
			func(m *Model) ([]Event, error) { return m.Retire("", "alice", t1) }, then{RuleCode: CodeModelRetired}},
		{"transparency declared", []Event{registered(StatusDevelopment), classified(Limited)},
			func(m *Model) ([]Event, error) {
				return m.DeclareTransparency([]string{"art50-1"}, []string{"art50-3", "art50-4"}, "dpo", t1)
			},
			then{Events: []Event{TransparencyDeclared{ModelID: "m1", Met: []string{"art50-1"}, NotApplicable: []string{"art50-3", "art50-4"}, DeclaredBy: "dpo", DeclaredAt: t1}}}},
		{"transparency: unknown and contradictory ids", []Event{registered(StatusDevelopment)},
			func(m *Model) ([]Event, error) {
				return m.DeclareTransparency([]string{"art50-1", "art99"}, []string{"art50-1"}, "dpo", t1)
			},
			then{Fields: []string{"met[0]", "met[1]"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.when(RehydrateModel(tc.given...))
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
	if _, err := RehydrateModel().Classify(HighRisk, "x", "a", t1); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a model never registered: want not found, got %v", err)
	}
}

func TestObligations(t *testing.T) {
	cases := []struct {
		class  RiskClass
		regime string
	}{
		{Prohibited, RegimeProhibited}, {HighRisk, RegimeHighRisk}, {Limited, RegimeTransparency}, {Minimal, RegimeNone}, {"", RegimeUnclassified},
	}
	for _, tc := range cases {
		if got := Regime(tc.class); got != tc.regime {
			t.Errorf("Regime(%q) = %q, want %q", tc.class, got, tc.regime)
		}
	}
	open := OpenRequirements([]string{"a", "b", "c", "d", "e"},
		map[string]string{"a": "compliant", "b": "not_applicable", "c": "partially_compliant", "d": "non_compliant"})
	if want := []string{"c", "d", "e"}; !equal(open, want) {
		t.Errorf("open requirements = %v, want %v", open, want)
	}
	ot := OpenTransparency([]string{"art50-1"}, []string{"art50-4"})
	if len(ot) != 2 || ot[0].ID != "art50-2" || ot[1].ID != "art50-3" {
		t.Errorf("open transparency = %v", ot)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
