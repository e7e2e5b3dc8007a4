package prowler

import (
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// asffFinding is a finding of Prowler's `json-asff` output (AWS Security
// Finding Format, as Prowler writes it for Security Hub).
type asffFinding struct {
	ID            string `json:"Id"`
	ProductArn    string `json:"ProductArn"`
	RecordState   string `json:"RecordState"`
	ProductFields struct {
		ProviderName    string `json:"ProviderName"`
		ProviderVersion string `json:"ProviderVersion"`
	} `json:"ProductFields"`
	GeneratorID  string   `json:"GeneratorId"`
	AwsAccountID string   `json:"AwsAccountId"`
	CreatedAt    flexTime `json:"CreatedAt"`
	UpdatedAt    flexTime `json:"UpdatedAt"`
	Severity     struct {
		Label string `json:"Label"`
	} `json:"Severity"`
	Title       string `json:"Title"`
	Description string `json:"Description"`
	Resources   []struct {
		Type   string            `json:"Type"`
		ID     string            `json:"Id"`
		Region string            `json:"Region"`
		Tags   map[string]string `json:"Tags"`
	} `json:"Resources"`
	Compliance struct {
		Status              string   `json:"Status"`
		RelatedRequirements []string `json:"RelatedRequirements"`
	} `json:"Compliance"`
	Remediation struct {
		Recommendation struct {
			Text string `json:"Text"`
			URL  string `json:"Url"`
		} `json:"Recommendation"`
	} `json:"Remediation"`
	Workflow *struct {
		Status string `json:"Status"`
	} `json:"Workflow"`
}

// asffPlaceholderURL is what Prowler writes as the recommendation URL of a
// check that has none; it is not a reference.
const asffPlaceholderURL = "https://docs.aws.amazon.com/securityhub/latest/userguide/what-is-securityhub.html"

func (p *parser) fromASFF(el *asffFinding) (cloudsecurity.Observation, string, bool, error) {
	var o cloudsecurity.Observation
	if name := strings.TrimSpace(el.ProductFields.ProviderName); name != "" && !strings.EqualFold(name, "prowler") {
		return o, "", false, invalid("ProductFields.ProviderName", "%q: not a Prowler finding", name)
	}
	gen := strings.TrimSpace(el.GeneratorID)
	if gen == "" {
		return o, "", false, missing("GeneratorId")
	}
	check, ok := strings.CutPrefix(gen, "prowler-")
	if !ok || check == "" {
		return o, "", false, invalid("GeneratorId", "%q: not a Prowler check (prowler-<check>)", gen)
	}
	o.CheckID = check
	if strings.EqualFold(strings.TrimSpace(el.RecordState), "ARCHIVED") {
		return o, "", true, nil // no longer current in Security Hub
	}
	var err error
	if o.Result, o.Muted, err = parseASFFStatus(el.Compliance.Status); err != nil {
		return o, "", false, err
	}
	if el.Workflow != nil && strings.EqualFold(strings.TrimSpace(el.Workflow.Status), "SUPPRESSED") {
		o.Muted = true
	}
	if o.Severity, err = parseSeverity("Severity.Label", el.Severity.Label); err != nil {
		return o, "", false, err
	}
	o.Provider = "aws"
	if o.AccountUID = strings.TrimSpace(el.AwsAccountID); o.AccountUID == "" {
		return o, "", false, missing("AwsAccountId")
	}
	found := false
	for _, t := range []struct {
		field string
		v     *flexTime
	}{{"UpdatedAt", &el.UpdatedAt}, {"CreatedAt", &el.CreatedAt}} {
		if !t.v.set {
			continue
		}
		tm, err := t.v.get()
		if err != nil {
			return o, "", false, wrapField(t.field, err)
		}
		o.ObservedAt, found = tm, true
		break
	}
	if !found {
		return o, "", false, missing("UpdatedAt")
	}
	if len(el.Resources) > 1 {
		return o, "", false, invalid("Resources", "%d resources; Prowler reports one per finding", len(el.Resources))
	}
	if len(el.Resources) == 1 {
		res := el.Resources[0]
		o.ResourceUID = strings.TrimSpace(res.ID)
		o.ResourceType = strings.TrimSpace(res.Type)
		o.Region = strings.TrimSpace(res.Region)
		if len(res.Tags) > 0 {
			o.ResourceTags = res.Tags
		}
	}
	if o.Region == "" {
		o.Region = regionFromArn(el.ProductArn)
	}
	o.ToolVersion = strings.TrimSpace(el.ProductFields.ProviderVersion)
	o.CheckTitle = el.Title
	o.Service = serviceFromCheck(o.CheckID)
	o.StatusDetail = el.Description // Prowler writes status_extended here
	o.FindingUID = strings.TrimSpace(el.ID)
	o.Compliance = parseASFFRequirements(el.Compliance.RelatedRequirements)
	var tx texts
	tx.remediationText(el.Remediation.Recommendation.Text)
	if u := strings.TrimSpace(el.Remediation.Recommendation.URL); u != asffPlaceholderURL {
		tx.reference(u)
	}
	o.Remediation, o.References = tx.remediation.String(), tx.refs
	return o, "", false, nil
}

// parseASFFStatus maps Compliance.Status: PASSED, FAILED; INFOED (Prowler
// 3's INFO, a manual check) and NOT_AVAILABLE are manual; WARNING is a
// muted result (Prowler 3 allowlist, 4.x+ mutelist) whose pass or fail the
// report no longer says, read as a muted failure so it never fixes
// anything.
func parseASFFStatus(s string) (cloudsecurity.Result, bool, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "PASSED":
		return cloudsecurity.ResultPass, false, nil
	case "FAILED":
		return cloudsecurity.ResultFail, false, nil
	case "INFOED", "NOT_AVAILABLE":
		return cloudsecurity.ResultManual, false, nil
	case "WARNING":
		return cloudsecurity.ResultFail, true, nil
	case "":
		return "", false, missing("Compliance.Status")
	}
	return "", false, invalid("Compliance.Status", "unknown status %q (want PASSED, FAILED, WARNING, NOT_AVAILABLE or INFOED)", s)
}

// regionFromArn returns the region of an ARN (arn:aws:securityhub:eu-west-1::...).
func regionFromArn(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
