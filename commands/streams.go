package commands

import (
	"strings"

	"github.com/cspm-es/cspm-es/domain/access"
)

// Stream types, and the prefixes of their stream ids ("scan-<scan_id>").
// Stream ids are global, not per team; every module's handlers name the
// streams they append to, or load, with these.
const (
	StreamTypeScanRun = "ScanRun"
	StreamTypeFinding = "Finding"
	// StreamTypeAPIKey is the stream type of an API key ("apikey-<key id>").
	StreamTypeAPIKey = access.StreamType
	// StreamTypeMutingRule is the stream type of a muting rule
	// ("mutingrule-<rule id>").
	StreamTypeMutingRule = "MutingRule"
	// StreamTypeCloudAccount is the stream type of a cloud account
	// ("account-<account id>", commands/cloudsecurity/accounts.go).
	StreamTypeCloudAccount = "CloudAccount"

	scanStreamPrefix       = "scan-"
	findingStreamPrefix    = "finding-"
	mutingRuleStreamPrefix = "mutingrule-"
	accountStreamPrefix    = "account-"
)

// ScanStreamID is the id of the ScanRun stream of scanID.
func ScanStreamID(scanID string) string { return scanStreamPrefix + scanID }

// FindingStreamID is the id of the Finding stream of findingID.
func FindingStreamID(findingID string) string { return findingStreamPrefix + findingID }

// ScanCall is the Call of command name on the scan scanID.
func ScanCall(name, scanID string, body any) Call {
	return Call{Name: name, TargetID: scanID, Body: body, StreamID: ScanStreamID(scanID), Type: StreamTypeScanRun}
}

// FindingCall is the Call of command name on the finding findingID.
func FindingCall(name, findingID string, body any) Call {
	return Call{Name: name, TargetID: findingID, Body: body, StreamID: FindingStreamID(findingID), Type: StreamTypeFinding}
}

// MutingRuleStreamID is the id of the MutingRule stream of ruleID.
func MutingRuleStreamID(ruleID string) string { return mutingRuleStreamPrefix + ruleID }

// MutingRuleCall is the Call of command name on the muting rule ruleID.
func MutingRuleCall(name, ruleID string, body any) Call {
	return Call{Name: name, TargetID: ruleID, Body: body, StreamID: MutingRuleStreamID(ruleID), Type: StreamTypeMutingRule}
}

// IndicatorStreamPrefix starts the stream id of an indicator of
// compromise ("indicator-<id>", commands/threatintel).
const IndicatorStreamPrefix = "indicator-"

// BIAStreamPrefix and BIAExerciseStreamPrefix start the stream ids of a
// business impact analysis ("bia-<id>") and of an exercise of one
// ("biaexercise-<id>", commands/bia).
const (
	BIAStreamPrefix         = "bia-"
	BIAExerciseStreamPrefix = "biaexercise-"
)

// Risk management's stream prefixes (commands/risk): a risk, a KRI, a
// risk acceptance ("risk-<id>", "kri-<id>", "riskacceptance-<id>").
const (
	RiskStreamPrefix           = "risk-"
	KRIStreamPrefix            = "kri-"
	RiskAcceptanceStreamPrefix = "riskacceptance-"
)

// AggregateID is the id inside a stream id ("scan-<id>", "finding-<id>",
// "mutingrule-<id>", "account-<id>").
func AggregateID(streamID string) string {
	for _, prefix := range []string{scanStreamPrefix, findingStreamPrefix, mutingRuleStreamPrefix, accountStreamPrefix, IndicatorStreamPrefix,
		BIAStreamPrefix, BIAExerciseStreamPrefix,
		RiskAcceptanceStreamPrefix, RiskStreamPrefix, KRIStreamPrefix} {
		if id, ok := strings.CutPrefix(streamID, prefix); ok {
			return id
		}
	}
	return streamID
}
