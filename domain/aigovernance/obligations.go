package aigovernance

import (
	"slices"
	"strings"
)

// EUAIActFramework is the framework id of the EU AI Act catalogue (the
// CISO Assistant library "ai-act", loaded by `cspm catalogs load`): a
// high-risk model's obligations are its assessable requirements
// (Chapter III Section 2, Articles 8-15), answered through an assessment
// of that framework whose scope names the model.
const EUAIActFramework = "ai-act"

// Obligation is one transparency obligation of Article 50.
type Obligation struct {
	ID    string `json:"id"`
	RefID string `json:"ref_id"`
	Name  string `json:"name"`
}

// TransparencyObligations are a limited-risk model's obligations: the
// four paragraphs of Article 50 of Regulation (EU) 2024/1689 that bind a
// provider or deployer. The catalogue's subset (Chapter III Section 2)
// does not hold Article 50, so the module keeps this fixed list; the team
// declares each met or not applicable (decision 77).
var TransparencyObligations = []Obligation{
	{ID: "art50-1", RefID: "Article 50(1)", Name: "Persons are informed that they interact with an AI system"},
	{ID: "art50-2", RefID: "Article 50(2)", Name: "Synthetic audio, image, video or text output is marked as artificially generated, machine-readably"},
	{ID: "art50-3", RefID: "Article 50(3)", Name: "Persons exposed to emotion recognition or biometric categorisation are informed"},
	{ID: "art50-4", RefID: "Article 50(4)", Name: "Deep fakes and AI-generated text published on matters of public interest are disclosed as such"},
}

// TransparencyObligation is the obligation of that id, or nil.
func TransparencyObligation(id string) *Obligation {
	for i := range TransparencyObligations {
		if TransparencyObligations[i].ID == id {
			return &TransparencyObligations[i]
		}
	}
	return nil
}

func transparencyIDs() string {
	ids := make([]string, len(TransparencyObligations))
	for i, o := range TransparencyObligations {
		ids[i] = o.ID
	}
	return strings.Join(ids, ", ")
}

// Obligation regimes: what a model's class makes it owe.
const (
	RegimeUnclassified = "unclassified"   // no class yet: obligations unknown
	RegimeProhibited   = "not_deployable" // Article 5: the model cannot be deployed (ChangeStatus refuses production)
	RegimeHighRisk     = "eu_ai_act_chapter3_section2"
	RegimeTransparency = "transparency_article50"
	RegimeNone         = "none"
)

// Regime is the obligation regime of a class.
func Regime(c RiskClass) string {
	switch c {
	case Prohibited:
		return RegimeProhibited
	case HighRisk:
		return RegimeHighRisk
	case Limited:
		return RegimeTransparency
	case Minimal:
		return RegimeNone
	}
	return RegimeUnclassified
}

// Discharges tells whether an answer status closes an obligation: a
// requirement answered compliant or not applicable is met; any other
// answer, or none, leaves it open.
func Discharges(status string) bool { return status == "compliant" || status == "not_applicable" }

// OpenRequirements lists the requirements (in order) an assessment's
// answers leave open.
func OpenRequirements(reqs []string, answers map[string]string) []string {
	out := []string{}
	for _, r := range reqs {
		if !Discharges(answers[r]) {
			out = append(out, r)
		}
	}
	return out
}

// OpenTransparency lists the Article 50 obligations neither met nor not applicable.
func OpenTransparency(met, notApplicable []string) []Obligation {
	out := []Obligation{}
	for _, o := range TransparencyObligations {
		if !slices.Contains(met, o.ID) && !slices.Contains(notApplicable, o.ID) {
			out = append(out, o)
		}
	}
	return out
}
