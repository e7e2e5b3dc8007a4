package prowler

import (
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// nativeFinding is a Prowler 3 `json` output element. AWS findings carry
// AccountId, Region, ResourceId and ResourceArn; Azure ones Subscription,
// Tenant_Domain, ResourceId and ResourceName; GCP ones ProjectId, Location,
// ResourceId and ResourceName.
type nativeFinding struct {
	AssessmentStartTime flexTime       `json:"AssessmentStartTime"`
	FindingUniqueID     string         `json:"FindingUniqueId"`
	Provider            string         `json:"Provider"`
	CheckID             string         `json:"CheckID"`
	CheckTitle          string         `json:"CheckTitle"`
	ServiceName         string         `json:"ServiceName"`
	Status              string         `json:"Status"`
	StatusExtended      string         `json:"StatusExtended"`
	Severity            string         `json:"Severity"`
	ResourceType        string         `json:"ResourceType"`
	Description         string         `json:"Description"`
	Risk                string         `json:"Risk"`
	RelatedURL          string         `json:"RelatedUrl"`
	Compliance          jsonCompliance `json:"Compliance"`
	Categories          flexStrings    `json:"Categories"`
	Remediation         struct {
		Code struct {
			NativeIaC string `json:"NativeIaC"`
			Terraform string `json:"Terraform"`
			CLI       string `json:"CLI"`
			Other     string `json:"Other"`
		} `json:"Code"`
		Recommendation struct {
			Text string `json:"Text"`
			URL  string `json:"Url"`
		} `json:"Recommendation"`
	} `json:"Remediation"`
	AccountID         string `json:"AccountId"`
	OrganizationsInfo *struct {
		AccountDetailsName string `json:"account_details_name"`
		AccountDetailsOrg  string `json:"account_details_org"`
	} `json:"OrganizationsInfo"`
	Region       string   `json:"Region"`
	ResourceID   string   `json:"ResourceId"`
	ResourceArn  string   `json:"ResourceArn"`
	ResourceName string   `json:"ResourceName"`
	ResourceTags flexTags `json:"ResourceTags"`
	Subscription string   `json:"Subscription"`
	TenantDomain string   `json:"Tenant_Domain"`
	ProjectID    string   `json:"ProjectId"`
	Location     string   `json:"Location"`
}

func (p *parser) fromNative(el *nativeFinding) (cloudsecurity.Observation, string, bool, error) {
	var o cloudsecurity.Observation
	if o.CheckID = strings.TrimSpace(el.CheckID); o.CheckID == "" {
		return o, "", false, missing("CheckID")
	}
	var err error
	if o.Result, o.Muted, err = parseStatus("Status", el.Status); err != nil {
		return o, "", false, err
	}
	if o.Severity, err = parseSeverity("Severity", el.Severity); err != nil {
		return o, "", false, err
	}
	if o.Provider = normProvider(el.Provider); o.Provider == "" {
		return o, "", false, missing("Provider")
	}
	if o.AccountUID = firstNonEmpty(el.AccountID, el.Subscription, el.ProjectID); o.AccountUID == "" {
		return o, "", false, missing("AccountId")
	}
	if !el.AssessmentStartTime.set {
		return o, "", false, missing("AssessmentStartTime")
	}
	if o.ObservedAt, err = el.AssessmentStartTime.get(); err != nil {
		return o, "", false, wrapField("AssessmentStartTime", err)
	}
	o.Region = regionFor(o.Provider, firstNonEmpty(el.Region, strings.ToLower(el.Location)))
	o.ResourceUID = firstNonEmpty(el.ResourceArn, el.ResourceID)
	o.ResourceName = firstNonEmpty(el.ResourceName, el.ResourceID)
	o.ResourceType = strings.TrimSpace(el.ResourceType)
	o.ResourceTags = map[string]string(el.ResourceTags)
	if el.OrganizationsInfo != nil {
		o.AccountName = strings.TrimSpace(el.OrganizationsInfo.AccountDetailsName)
		o.Organization = strings.TrimSpace(el.OrganizationsInfo.AccountDetailsOrg)
	}
	o.Organization = firstNonEmpty(o.Organization, el.TenantDomain)
	o.CheckTitle = el.CheckTitle
	o.Service = strings.TrimSpace(el.ServiceName)
	o.StatusDetail = el.StatusExtended
	o.FindingUID = strings.TrimSpace(el.FindingUniqueID)
	o.Description = el.Description
	o.Risk = el.Risk
	o.Categories = nonEmpty(el.Categories)
	var c compliance
	c.addAll(el.Compliance)
	o.Compliance = c

	var tx texts
	tx.remediationText(el.Remediation.Recommendation.Text)
	tx.reference(el.Remediation.Recommendation.URL)
	for _, code := range []string{el.Remediation.Code.NativeIaC, el.Remediation.Code.Terraform, el.Remediation.Code.CLI, el.Remediation.Code.Other} {
		if strings.TrimSpace(code) != noCommand {
			tx.reference(code)
		}
	}
	tx.url(el.RelatedURL)
	o.Remediation, o.References = tx.remediation.String(), tx.refs
	return o, "", false, nil
}
