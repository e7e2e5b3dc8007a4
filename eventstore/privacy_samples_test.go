package eventstore_test

import (
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/risk"
)

// personalSamples has one event of each type with personal fields, every
// person "person@example.com" and every sealed text "free text".
func personalSamples() []any {
	const p, txt = "person@example.com", "free text"
	return []any{
		access.UserImported{UserID: "u", TeamID: "t1", Email: p, Name: txt},
		risk.RiskIdentified{RiskID: "r", Owner: p},
		risk.RiskDescribed{RiskID: "r", Owner: p},
		risk.TreatmentPlanned{RiskID: "r", Owner: p},
		risk.RiskAccepted{AcceptanceID: "a", Approver: p, Reason: txt},
		cloudsecurity.MutingRuleCreated{RuleID: "m", Owner: p, Reason: txt},
		cloudsecurity.MutingRuleChanged{RuleID: "m", Owner: p, Reason: txt},
		assessments.AssessmentCreated{AssessmentID: "a", Assignees: []string{p, p}},
		assessments.RequirementAnswered{AssessmentID: "a", AnsweredBy: p, Comment: txt},
		bia.BIACreated{BIAID: "b", Details: bia.Details{Owner: p}},
		bia.BIADetailsChanged{BIAID: "b", Details: bia.Details{Owner: p}},
		bia.BusinessProcessAdded{BIAID: "b", Process: bia.Process{Owner: p}},
		bia.BusinessProcessChanged{BIAID: "b", Process: bia.Process{Owner: p}},
		bia.ExercisePlanned{ExerciseID: "e", Owner: p},
		bia.LessonLearnedRecorded{LessonID: "l", Owner: p},
		bia.LessonLearnedUpdated{LessonID: "l", Owner: p},
		aigovernance.ModelRegistered{ModelID: "m", Owner: p},
		aigovernance.ModelStatusChanged{ModelID: "m", ChangedBy: p},
		aigovernance.ModelIncidentReported{IncidentID: "i", ReportedBy: p, Description: txt},
		aigovernance.ModelIncidentStatusChanged{IncidentID: "i", ChangedBy: p, Note: txt},
	}
}
