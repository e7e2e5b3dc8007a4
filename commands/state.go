package commands

import (
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/domain/aigovernance"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
)

// State rebuilds the state view of the aggregate whose stream events are
// (oldest first, all of one stream): an orchestration.ScanRunState for a
// ScanRun stream, a cloudsecurity.FindingState for a Finding stream (a
// cloudsecurity.TriageState for the triage stream of an imported finding),
// a cloudsecurity.MutingRuleState for a MutingRule stream, a
// cloudsecurity.CloudAccountState for a CloudAccount stream, an
// access.APIKeyState (no salt, no hash) for an ApiKey stream, an
// aigovernance.ModelState, BiasTestState or IncidentState for the AI
// governance streams, a risk.RiskState, KRIState or AcceptanceState for the
// risk streams, a bia.Snapshot for a business impact analysis, and nil
// for a stream type without a state view (its events say it all). The
// audit replay (CLI and endpoint) uses it; pass a prefix of the stream to
// see the state as of an earlier version.
func State(codec *eventstore.Codec, events []eventstore.RecordedEvent) (any, error) {
	if len(events) == 0 {
		return nil, errors.New("state: no events")
	}
	first := events[0]
	for _, e := range events[1:] {
		if e.StreamID != first.StreamID {
			return nil, fmt.Errorf("state: events of streams %s and %s", first.StreamID, e.StreamID)
		}
	}
	switch first.StreamType {
	case StreamTypeScanRun:
		history, err := Decode[orchestration.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		return orchestration.Rehydrate(history...).State(), nil
	case StreamTypeFinding:
		history, err := Decode[cloudsecurity.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		if _, raised := history[0].(cloudsecurity.FindingRaised); !raised {
			// The triage stream of an imported finding: a person's
			// decisions only (what the scans said is in the imports).
			return cloudsecurity.RehydrateTriage(history...).State(), nil
		}
		return cloudsecurity.Rehydrate(history...).State(), nil
	case StreamTypeMutingRule:
		history, err := Decode[cloudsecurity.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		return cloudsecurity.RehydrateMutingRule(history...).View(), nil
	case StreamTypeCloudAccount:
		history, err := Decode[cloudsecurity.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		return cloudsecurity.RehydrateAccount(first.StreamID[len("account-"):], history...).View(), nil
	case StreamTypeAPIKey:
		history, err := Decode[access.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		return access.Rehydrate(history...).State(), nil
	case StreamTypeAIModel, StreamTypeAIBiasTest, StreamTypeAIIncident:
		history, err := Decode[aigovernance.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		switch first.StreamType {
		case StreamTypeAIModel:
			return aigovernance.RehydrateModel(history...).State(), nil
		case StreamTypeAIBiasTest:
			return aigovernance.RehydrateBiasTest(history...).State(), nil
		}
		return aigovernance.RehydrateIncident(history...).State(), nil
	case StreamTypeRisk, StreamTypeKRI, StreamTypeRiskAcceptance:
		history, err := Decode[risk.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		switch first.StreamType {
		case StreamTypeRisk:
			return risk.RehydrateRisk(history...).View(), nil
		case StreamTypeKRI:
			return risk.RehydrateKRI(history...).View(), nil
		}
		return risk.RehydrateAcceptance(history...).View(), nil
	case StreamTypeBIA:
		history, err := Decode[bia.Event](codec, events)
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", first.StreamID, err)
		}
		return bia.RehydrateAnalysis(history...).Snapshot(), nil
	default:
		// No state view (imports, catalogues, deliveries…): their events
		// are the answer.
		return nil, nil
	}
}

// Stream types of modules whose command packages import this one
// (commands/risk and commands/bia use these).
const (
	StreamTypeRisk           = "Risk"
	StreamTypeKRI            = "KRI"
	StreamTypeRiskAcceptance = "RiskAcceptance"
	StreamTypeBIA            = "BusinessImpactAnalysis"
)
