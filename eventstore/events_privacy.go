package eventstore

import (
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/risk"
)

// personalFields are the personal fields of the domain events
// (docs/privacy.md, decision 91): fields naming a person (owners,
// approvers, assignees, who answered, reported or changed something),
// sealed under that person's key, and free-text fields written by or
// about that person (a justification, a comment, a note), sealed under
// the same key. The metadata's actor is not here: it is a pseudonym
// ("key:<id>", "cli", "system:..."), never a name.
var personalFields = []struct {
	sample domainEvent
	fields []PersonalField
}{
	{risk.RiskIdentified{}, []PersonalField{{Path: "owner"}}},
	{risk.RiskDescribed{}, []PersonalField{{Path: "owner"}}},
	{risk.TreatmentPlanned{}, []PersonalField{{Path: "owner"}}},
	{risk.RiskAccepted{}, []PersonalField{{Path: "approver"}, {Path: "reason", SubjectFrom: "approver"}}},
	{cloudsecurity.MutingRuleCreated{}, []PersonalField{{Path: "owner"}, {Path: "reason", SubjectFrom: "owner"}}},
	{cloudsecurity.MutingRuleChanged{}, []PersonalField{{Path: "owner"}, {Path: "reason", SubjectFrom: "owner"}}},
	{assessments.AssessmentCreated{}, []PersonalField{{Path: "assignees[]"}}},
	{assessments.RequirementAnswered{}, []PersonalField{{Path: "answered_by"}, {Path: "comment", SubjectFrom: "answered_by"}}},
	{bia.BIACreated{}, []PersonalField{{Path: "owner"}}},
	{bia.BIADetailsChanged{}, []PersonalField{{Path: "owner"}}},
	{bia.BusinessProcessAdded{}, []PersonalField{{Path: "process.owner"}}},
	{bia.BusinessProcessChanged{}, []PersonalField{{Path: "process.owner"}}},
	{bia.ExercisePlanned{}, []PersonalField{{Path: "owner"}}},
	{bia.LessonLearnedRecorded{}, []PersonalField{{Path: "owner"}}},
	{bia.LessonLearnedUpdated{}, []PersonalField{{Path: "owner"}}},
	{aigovernance.ModelRegistered{}, []PersonalField{{Path: "owner"}}},
	{aigovernance.ModelStatusChanged{}, []PersonalField{{Path: "changed_by"}}},
	{aigovernance.ModelIncidentReported{}, []PersonalField{{Path: "reported_by"}, {Path: "description", SubjectFrom: "reported_by"}}},
	{aigovernance.ModelIncidentStatusChanged{}, []PersonalField{{Path: "changed_by"}, {Path: "note", SubjectFrom: "changed_by"}}},
	// A user of the legacy platform (cspm import-legacy): the email is the
	// subject, the name is sealed under it.
	{access.UserImported{}, []PersonalField{{Path: "email"}, {Path: "name", SubjectFrom: "email"}}},
}
