package assessments_test

import (
	"testing"
	"time"

	. "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/domaintest"
)

var (
	t0   = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	t1   = t0.Add(time.Hour)
	fw   = FrameworkRef{Framework: "nist-csf-2.0-aws", Version: "c1"}
	reqs = []AssessedRequirement{{ID: "oc_1", Section: "Govern"}, {ID: "oc_2", Section: "Govern"}, {ID: "ds_6", Section: "Protect"}}
)

func created() AssessmentCreated {
	return AssessmentCreated{AssessmentID: "a1", Name: "Q1 CSF", Framework: fw, Requirements: reqs,
		Scope: Scope{Accounts: []string{"111122223333"}}, AsOf: t0, CreatedAt: t0}
}

func answered(req string, s AnswerStatus, comment string) RequirementAnswered {
	return RequirementAnswered{AssessmentID: "a1", RequirementID: req, Status: s, Comment: comment, AnsweredBy: "alice", AnsweredAt: t0}
}

func TestCreateAssessment(t *testing.T) {
	due := t0.Add(30 * 24 * time.Hour)
	cases := []struct {
		name string
		when AssessmentSpec
		then domaintest.Then[Event]
	}{
		{"scope ids sorted and deduplicated, as_of defaults to now",
			AssessmentSpec{Name: " Q1 CSF ", Framework: fw, Requirements: reqs, Scope: Scope{Accounts: []string{"b", "a", "b"}}, Assignees: []string{"bob"}, DueDate: due},
			domaintest.Then[Event]{Events: []Event{AssessmentCreated{AssessmentID: "a1", Name: "Q1 CSF", Framework: fw, Requirements: reqs,
				Scope: Scope{Accounts: []string{"a", "b"}}, Assignees: []string{"bob"}, DueDate: due, AsOf: t1, CreatedAt: t1}}}},
		{"the evidence date is kept as given",
			AssessmentSpec{Name: "x", Framework: fw, Requirements: reqs, AsOf: t0},
			domaintest.Then[Event]{Events: []Event{AssessmentCreated{AssessmentID: "a1", Name: "x", Framework: fw, Requirements: reqs, AsOf: t0, CreatedAt: t1}}}},
		{"name, framework, version required", AssessmentSpec{Requirements: reqs},
			domaintest.Then[Event]{Fields: []string{"name", "framework", "version"}}},
		{"a version without assessable requirement", AssessmentSpec{Name: "x", Framework: fw},
			domaintest.Then[Event]{Fields: []string{"framework"}}},
		{"due date in the past", AssessmentSpec{Name: "x", Framework: fw, Requirements: reqs, DueDate: t0.Add(-72 * time.Hour)},
			domaintest.Then[Event]{Fields: []string{"due_date"}}},
		{"empty scope id", AssessmentSpec{Name: "x", Framework: fw, Requirements: reqs, Scope: Scope{Models: []string{" "}}},
			domaintest.Then[Event]{Fields: []string{"scope.models[0]"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CreateAssessment("a1", tc.when, t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestAnswerRequirement(t *testing.T) {
	type when struct {
		req      string
		status   AnswerStatus
		comment  string
		evidence []string
	}
	cases := []struct {
		name  string
		given []Event
		when  when
		then  domaintest.Then[Event]
	}{
		{"a first answer", []Event{created()}, when{"oc_1", Compliant, "", []string{" https://wiki/x "}},
			domaintest.Then[Event]{Events: []Event{RequirementAnswered{AssessmentID: "a1", RequirementID: "oc_1", Status: Compliant,
				Evidence: []string{"https://wiki/x"}, AnsweredBy: "alice", AnsweredAt: t1}}}},
		{"the same answer again appends nothing", []Event{created(), answered("oc_1", Compliant, "")}, when{"oc_1", Compliant, "", nil},
			domaintest.Then[Event]{}},
		{"another answer replaces it", []Event{created(), answered("oc_1", Compliant, "")}, when{"oc_1", NonCompliant, "no owner", nil},
			domaintest.Then[Event]{Events: []Event{RequirementAnswered{AssessmentID: "a1", RequirementID: "oc_1", Status: NonCompliant,
				Comment: "no owner", AnsweredBy: "alice", AnsweredAt: t1}}}},
		{"not met needs a comment", []Event{created()}, when{"oc_1", PartiallyCompliant, " ", nil},
			domaintest.Then[Event]{Fields: []string{"comment"}}},
		{"unknown requirement and status", []Event{created()}, when{"zz", "maybe", "", nil},
			domaintest.Then[Event]{Fields: []string{"requirement_id", "status"}}},
		{"closed", []Event{created(), answered("oc_1", Compliant, ""), answered("oc_2", NotApplicable, ""), answered("ds_6", Compliant, ""),
			AssessmentClosed{AssessmentID: "a1", ClosedAt: t0}}, when{"oc_1", Compliant, "", nil},
			domaintest.Then[Event]{RuleCode: "ASSESSMENT_CLOSED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RehydrateAssessment(tc.given...).AnswerRequirement(tc.when.req, tc.when.status, tc.when.comment, tc.when.evidence, "alice", t1)
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestCloseAndReschedule(t *testing.T) {
	later := t0.Add(48 * time.Hour)
	cases := []struct {
		name   string
		given  []Event
		decide func(*Assessment) ([]Event, error)
		then   domaintest.Then[Event]
	}{
		{"close with a requirement unanswered", []Event{created(), answered("oc_1", Compliant, "")},
			func(a *Assessment) ([]Event, error) { return a.Close("alice", t1) },
			domaintest.Then[Event]{RuleCode: "ASSESSMENT_INCOMPLETE"}},
		{"close when every requirement has an answer", []Event{created(), answered("oc_1", Compliant, ""), answered("oc_2", NotApplicable, ""), answered("ds_6", Compliant, "")},
			func(a *Assessment) ([]Event, error) { return a.Close("alice", t1) },
			domaintest.Then[Event]{Events: []Event{AssessmentClosed{AssessmentID: "a1", ClosedBy: "alice", ClosedAt: t1}}}},
		{"move the evidence date", []Event{created()},
			func(a *Assessment) ([]Event, error) { return a.Reschedule(&later, nil, nil, nil, t1) },
			domaintest.Then[Event]{Events: []Event{AssessmentRescheduled{AssessmentID: "a1", AsOf: later, Scope: Scope{Accounts: []string{"111122223333"}}, ChangedAt: t1}}}},
		{"the same date appends nothing", []Event{created()},
			func(a *Assessment) ([]Event, error) { return a.Reschedule(&t0, nil, nil, nil, t1) },
			domaintest.Then[Event]{}},
		{"a closed assessment keeps its date", []Event{created(), AssessmentClosed{AssessmentID: "a1"}},
			func(a *Assessment) ([]Event, error) { return a.Reschedule(&later, nil, nil, nil, t1) },
			domaintest.Then[Event]{RuleCode: "ASSESSMENT_CLOSED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decide(RehydrateAssessment(tc.given...))
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}

func TestProgress(t *testing.T) {
	cases := []struct {
		name    string
		given   []Event
		overall [2]int            // answered, percent
		section map[string][2]int // answered, percent
	}{
		{"nothing answered", []Event{created()}, [2]int{0, 0}, map[string][2]int{"Govern": {0, 0}, "Protect": {0, 0}}},
		{"one of two in a section", []Event{created(), answered("oc_1", Compliant, "")}, [2]int{1, 33}, map[string][2]int{"Govern": {1, 50}, "Protect": {0, 0}}},
		{"an answer replaced counts once", []Event{created(), answered("oc_1", Compliant, ""), answered("oc_1", NonCompliant, "x"), answered("ds_6", NotApplicable, "")},
			[2]int{2, 66}, map[string][2]int{"Govern": {1, 50}, "Protect": {1, 100}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := RehydrateAssessment(tc.given...).Progress()
			if p.Requirements != 3 || p.Answered != tc.overall[0] || p.Percent != tc.overall[1] {
				t.Fatalf("overall: %+v", p)
			}
			for _, s := range p.Sections {
				if w := tc.section[s.Section]; s.Answered != w[0] || s.Percent != w[1] {
					t.Errorf("section %s: %+v, want %v", s.Section, s, w)
				}
			}
			if len(p.Sections) != 2 || p.Sections[0].Section != "Govern" {
				t.Errorf("sections in catalogue order: %+v", p.Sections)
			}
		})
	}
}

func TestLoadVersion(t *testing.T) {
	cat := Catalogue{Framework: "f", Name: "F", Source: SourceProwler, Requirements: []Requirement{{ID: "r1", Assessable: true}}}
	loaded := FrameworkVersionLoaded{Framework: "f", Version: "1", Name: "F", Source: SourceProwler, ContentHash: "h1", Requirements: cat.Requirements, LoadedAt: t0}
	cases := []struct {
		name      string
		given     []Event
		version   string
		hash      string
		then      domaintest.Then[Event]
		unchanged bool
	}{
		{"a first version", nil, "1", "h1", domaintest.Then[Event]{Events: []Event{loaded}}, false},
		{"the same version and content: unchanged", []Event{loaded}, "1", "h1", domaintest.Then[Event]{}, true},
		{"the same version, other content", []Event{loaded}, "1", "h2", domaintest.Then[Event]{RuleCode: "CATALOG_VERSION_EXISTS"}, false},
		{"a new version", []Event{loaded}, "2", "h2", domaintest.Then[Event]{Events: []Event{FrameworkVersionLoaded{Framework: "f", Version: "2",
			Name: "F", Source: SourceProwler, ContentHash: "h2", Requirements: cat.Requirements, LoadedAt: t0}}}, false},
		{"a bad version name", nil, "a/b", "h1", domaintest.Then[Event]{Fields: []string{"version"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RehydrateFramework(tc.given...).LoadVersion(cat, tc.version, tc.hash, "", t0)
			if tc.unchanged {
				if err != ErrUnchanged {
					t.Fatalf("want ErrUnchanged, got %v", err)
				}
				return
			}
			domaintest.AssertOutcome(t, tc.then, got, err)
		})
	}
}
