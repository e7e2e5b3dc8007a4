package assessments

import "time"

// The evidence of an assessment, as the evidence projection gathers it
// (docs/assessments.md, "Evidence"). These are the shapes of its read
// model, shared by the projection that writes it and the query that
// answers it.

// Evidence statuses of a requirement (the compliance rule's, plus no_checks).
const (
	EvidencePass         = "pass"
	EvidenceFail         = "fail"
	EvidenceManual       = "manual"
	EvidenceNotEvaluated = "not_evaluated" // checks map to it, none evaluated in the scope by the date
	EvidenceNoChecks     = "no_checks"     // no check maps to it (nor to a requirement mapped to it)
)

// EvidenceSource is an import the evidence rests on: evaluated at or
// before the assessment's date, of a scoped account, with a check that
// counts. Position is where it arrived in the log: one arriving after a
// later one is a late import that revised the evidence.
type EvidenceSource struct {
	ImportID    string    `json:"import_id"`
	ScanID      string    `json:"scan_id"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	Position    int64     `json:"position"`
	RecordedAt  time.Time `json:"recorded_at"`
	Selected    bool      `json:"selected"` // it supplies at least one evaluation in force at the date
}

// CheckEvidence is the evaluation of a check in an account in force at
// the assessment's date.
type CheckEvidence struct {
	Account      string    `json:"account"`
	Check        string    `json:"check"`
	Status       string    `json:"status"`
	ImportID     string    `json:"import_id"`
	ScanID       string    `json:"scan_id"`
	EvaluatedAt  time.Time `json:"evaluated_at"`
	Pass         int       `json:"pass"`
	Fail         int       `json:"fail"`
	MutedFail    int       `json:"muted_fail"`
	Manual       int       `json:"manual"`
	Findings     []string  `json:"failing_findings,omitempty"` // ids of failing findings (at most 20)
	FailingCount int       `json:"failing_count"`
}

// MappedAnswer is an answer given to a mapped requirement in another of
// the team's assessments.
type MappedAnswer struct {
	AssessmentID string `json:"assessment_id"`
	Status       string `json:"status"`
}

// MappedRequirement is a requirement of another framework mapped to this one.
type MappedRequirement struct {
	Framework   FrameworkRef   `json:"framework"`
	Requirement string         `json:"requirement"`
	Label       string         `json:"label,omitempty"`
	Checks      []string       `json:"checks,omitempty"`
	Answers     []MappedAnswer `json:"answers,omitempty"`
}

// RequirementEvidence is one requirement's evidence.
type RequirementEvidence struct {
	ID        string              `json:"id"`
	Label     string              `json:"label"`
	Section   string              `json:"section,omitempty"`
	Status    string              `json:"status"`
	Checks    []string            `json:"checks,omitempty"` // every check that counts (its own and the mapped ones')
	Mapped    []MappedRequirement `json:"mapped,omitempty"`
	Evaluated int                 `json:"evaluated"` // account × check pairs with an evaluation at the date
	Pass      int                 `json:"pass"`
	Fail      int                 `json:"fail"`
	MutedFail int                 `json:"muted_fail"`
	Manual    int                 `json:"manual"`
	Failing   []CheckEvidence     `json:"failing,omitempty"` // at most 50
}

// EvidenceCounts counts the requirements by evidence status.
type EvidenceCounts struct {
	Requirements int `json:"requirements"`
	Pass         int `json:"pass"`
	Fail         int `json:"fail"`
	Manual       int `json:"manual"`
	NotEvaluated int `json:"not_evaluated"`
	NoChecks     int `json:"no_checks"`
	MappedAnswer int `json:"with_mapped_answers"`
}

// EvidenceView is an assessment's evidence as of its date.
type EvidenceView struct {
	AssessmentID string                `json:"assessment_id"`
	Framework    FrameworkRef          `json:"framework"`
	AsOf         time.Time             `json:"as_of"`
	Accounts     []string              `json:"accounts"`
	Catalogue    bool                  `json:"catalogue"` // its catalogue version is known
	Revision     int                   `json:"revision"`  // how many imports it rests on
	RevisedAt    *time.Time            `json:"revised_at"`
	Counts       EvidenceCounts        `json:"counts"`
	Sources      []EvidenceSource      `json:"sources"`
	Checks       []CheckEvidence       `json:"checks"`
	Requirements []RequirementEvidence `json:"requirements"`
}
