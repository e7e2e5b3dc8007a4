package eventstore_test

import (
	"time"

	"github.com/cspm-es/cspm-es/domain/assessments"
)

// assessmentEventSamples are the assessments module's events with every
// field set (TestDomainCodecRoundTrip).
func assessmentEventSamples(when time.Time) []interface{ EventType() string } {
	fw := assessments.FrameworkRef{Framework: "nist-ai-rmf-1.0", Version: "1"}
	return []interface{ EventType() string }{
		assessments.FrameworkVersionLoaded{Framework: "nist-ai-rmf-1.0", Version: "1", Name: "NIST AI RMF 1.0", Description: "d", Provider: "NIST",
			Source: assessments.SourceCISOAssistant, Locale: "en", Published: "2024-03-23", Copyright: "c", ContentHash: "sha256:ab", FileName: "f.json",
			Requirements: []assessments.Requirement{{ID: "urn:a", RefID: "GOVERN 1.1", Name: "n", Description: "d", Parent: "urn:p", Depth: 2,
				Section: "GOVERN", Assessable: true, Checks: []string{"c1"}}}, LoadedAt: when},
		assessments.RequirementMappingLoaded{MappingID: "m1", Name: "n", Source: fw, Target: assessments.FrameworkRef{Framework: "ai-act", Version: "2"},
			Pairs: []assessments.RequirementPair{{Source: "a", Target: "b", Relationship: "equal"}}, ContentHash: "sha256:cd", LoadedAt: when},
		assessments.AssessmentCreated{AssessmentID: "as1", Name: "n", Description: "d", Framework: fw,
			Requirements: []assessments.AssessedRequirement{{ID: "urn:a", Section: "GOVERN"}},
			Scope:        assessments.Scope{Accounts: []string{"a"}, Assets: []string{"b"}, Models: []string{"m"}}, Assignees: []string{"u"},
			DueDate: when, AsOf: when, CreatedAt: when},
		assessments.RequirementAnswered{AssessmentID: "as1", RequirementID: "urn:a", Status: assessments.Compliant, Comment: "c",
			Evidence: []string{"doc-1"}, AnsweredBy: "u", AnsweredAt: when},
		assessments.AssessmentRescheduled{AssessmentID: "as1", AsOf: when, DueDate: when, Scope: assessments.Scope{Accounts: []string{"a"}},
			Assignees: []string{"u"}, ChangedAt: when},
		assessments.AssessmentClosed{AssessmentID: "as1", ClosedBy: "u", ClosedAt: when},
	}
}
