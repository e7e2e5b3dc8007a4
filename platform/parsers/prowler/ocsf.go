package prowler

import (
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// ocsfFinding is the part of a Prowler OCSF Detection Finding the parser
// reads. Everything else (notably resources[].data, a dump of Prowler's
// internal model that can be most of the element) is skipped by the
// decoder without being kept.
type ocsfFinding struct {
	Message  string `json:"message"`
	Metadata struct {
		EventCode string `json:"event_code"`
		Product   struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"product"`
		Profiles  []string `json:"profiles"`
		TenantUID string   `json:"tenant_uid"`
	} `json:"metadata"`
	Severity     string `json:"severity"`
	SeverityID   *int   `json:"severity_id"`
	Status       string `json:"status"`
	StatusCode   string `json:"status_code"`
	StatusDetail string `json:"status_detail"`
	Unmapped     struct {
		RelatedURL     string         `json:"related_url"`
		AdditionalURLs flexStrings    `json:"additional_urls"`
		Categories     flexStrings    `json:"categories"`
		Compliance     jsonCompliance `json:"compliance"`
		ScanID         string         `json:"scan_id"`
		ProviderUID    string         `json:"provider_uid"`
		Provider       string         `json:"provider"`
	} `json:"unmapped"`
	FindingInfo struct {
		CreatedTime   flexTime `json:"created_time"`
		CreatedTimeDT flexTime `json:"created_time_dt"`
		Desc          string   `json:"desc"`
		Title         string   `json:"title"`
		UID           string   `json:"uid"`
	} `json:"finding_info"`
	Resources []struct {
		Region    string   `json:"region"`
		Namespace string   `json:"namespace"`
		Name      string   `json:"name"`
		UID       string   `json:"uid"`
		Type      string   `json:"type"`
		Labels    []string `json:"labels"`
		Group     struct {
			Name string `json:"name"`
		} `json:"group"`
	} `json:"resources"`
	ClassUID int `json:"class_uid"`
	Cloud    *struct {
		Account struct {
			Name   string   `json:"name"`
			UID    string   `json:"uid"`
			Labels []string `json:"labels"`
		} `json:"account"`
		Org struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"org"`
		Provider string `json:"provider"`
		Region   string `json:"region"`
	} `json:"cloud"`
	Remediation struct {
		Desc       string   `json:"desc"`
		References []string `json:"references"`
	} `json:"remediation"`
	RiskDetails string   `json:"risk_details"`
	Time        flexTime `json:"time"`
	TimeDT      flexTime `json:"time_dt"`
	EventTime   flexTime `json:"event_time"`
}

// OCSF classes Prowler writes: Detection Finding (2004); Security Finding
// (2001, deprecated) is accepted as an alias.
const (
	ocsfDetectionFinding = 2004
	ocsfSecurityFinding  = 2001
)

func (p *parser) fromOCSF(el *ocsfFinding) (cloudsecurity.Observation, string, bool, error) {
	var o cloudsecurity.Observation
	if name := strings.TrimSpace(el.Metadata.Product.Name); name != "" && !strings.EqualFold(name, "prowler") {
		return o, "", false, invalid("metadata.product.name", "%q: not a Prowler finding", name)
	}
	if el.ClassUID != 0 && el.ClassUID != ocsfDetectionFinding && el.ClassUID != ocsfSecurityFinding {
		return o, "", false, invalid("class_uid", "%d: not an OCSF Detection Finding (2004)", el.ClassUID)
	}
	uidProvider, uidCheck := checkFromFindingUID(el.FindingInfo.UID)

	o.CheckID = strings.TrimSpace(el.Metadata.EventCode)
	if o.CheckID == "" {
		o.CheckID = uidCheck // Prowler 4.0 has no event_code
	}
	if o.CheckID == "" {
		return o, "", false, missing("metadata.event_code")
	}
	var err error
	if o.Result, _, err = parseOCSFStatusCode(el.StatusCode); err != nil {
		return o, "", false, err
	}
	// status/status_id are OCSF's workflow state, not the result: Prowler
	// writes "Suppressed" for a muted finding and "New" otherwise (4.2 even
	// writes status_id 3 for every finding), so only the name is read.
	o.Muted = strings.EqualFold(strings.TrimSpace(el.Status), "suppressed")

	if o.Severity, err = parseSeverity("severity", el.Severity); err != nil {
		return o, "", false, err
	}
	if o.Severity == "" && el.SeverityID != nil {
		if o.Severity, err = ocsfSeverityID(*el.SeverityID); err != nil {
			return o, "", false, err
		}
	}

	cloudProvider, cloudRegion, cloudAccount := "", "", ""
	if el.Cloud != nil {
		cloudProvider, cloudRegion, cloudAccount = el.Cloud.Provider, el.Cloud.Region, strings.TrimSpace(el.Cloud.Account.UID)
		o.AccountName = strings.TrimSpace(el.Cloud.Account.Name)
		o.AccountTags = labelsToTags(el.Cloud.Account.Labels)
		o.Organization = firstNonEmpty(el.Cloud.Org.UID, el.Cloud.Org.Name)
	}
	o.Organization = firstNonEmpty(o.Organization, el.Metadata.TenantUID)
	o.Provider = normProvider(firstNonEmpty(cloudProvider, el.Unmapped.Provider, uidProvider))
	if o.Provider == "" && el.Cloud == nil && contains(el.Metadata.Profiles, "container") {
		o.Provider = "kubernetes"
	}
	if o.Provider == "" {
		return o, "", false, missing("cloud.provider")
	}

	if len(el.Resources) > 1 {
		return o, "", false, invalid("resources", "%d resources; Prowler reports one per finding", len(el.Resources))
	}
	if len(el.Resources) == 1 {
		res := el.Resources[0]
		o.ResourceUID = strings.TrimSpace(res.UID)
		o.ResourceName = strings.TrimSpace(res.Name)
		o.ResourceType = strings.TrimSpace(res.Type)
		o.Service = strings.TrimSpace(res.Group.Name)
		o.ResourceTags = labelsToTags(res.Labels)
		if o.Provider == "kubernetes" {
			o.Region = firstNonEmpty(res.Namespace, kubernetesNamespace(res.Region))
		} else {
			o.Region = strings.TrimSpace(res.Region)
		}
	}
	if o.Region == "" {
		o.Region = regionFor(o.Provider, cloudRegion)
	}

	// Kubernetes findings have no cloud object: the cluster is in the
	// finding uid (what Prowler's CSV calls ACCOUNT_UID) or, in recent 5.x,
	// unmapped.provider_uid (the cluster, or the kubeconfig context).
	o.AccountUID = cloudAccount
	if o.AccountUID == "" && o.Provider == "kubernetes" {
		o.AccountUID = clusterFromFindingUID(el.FindingInfo.UID, o.CheckID)
	}
	if o.AccountUID == "" {
		o.AccountUID = strings.TrimSpace(el.Unmapped.ProviderUID)
	}
	if o.AccountUID == "" {
		if o.Provider == "kubernetes" {
			return o, "", false, invalid("finding_info.uid", "%q: the Kubernetes cluster is in no field (no unmapped.provider_uid, and the finding uid is not prowler-kubernetes-<check>-<cluster>-namespace: ...)", el.FindingInfo.UID)
		}
		return o, "", false, missing("cloud.account.uid")
	}

	// time is Unix seconds and exact; time_dt, event_time and the ISO
	// created_time are the scanning machine's local time without a zone.
	found := false
	for _, t := range []struct {
		field string
		v     *flexTime
	}{
		{"time", &el.Time}, {"time_dt", &el.TimeDT}, {"event_time", &el.EventTime},
		{"finding_info.created_time", &el.FindingInfo.CreatedTime},
		{"finding_info.created_time_dt", &el.FindingInfo.CreatedTimeDT},
	} {
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
		return o, "", false, missing("time")
	}

	o.ToolVersion = strings.TrimSpace(el.Metadata.Product.Version)
	o.CheckTitle = el.FindingInfo.Title
	o.Description = el.FindingInfo.Desc
	o.Risk = el.RiskDetails
	o.StatusDetail = firstNonEmpty(el.StatusDetail, el.Message)
	o.FindingUID = strings.TrimSpace(el.FindingInfo.UID)
	o.Categories = nonEmpty(el.Unmapped.Categories)
	var c compliance
	c.addAll(el.Unmapped.Compliance)
	o.Compliance = c

	var tx texts
	tx.remediationText(el.Remediation.Desc)
	for _, ref := range el.Remediation.References {
		tx.reference(ref)
	}
	tx.url(el.Unmapped.RelatedURL)
	for _, u := range el.Unmapped.AdditionalURLs {
		tx.url(u)
	}
	o.Remediation, o.References = tx.remediation.String(), tx.refs
	return o, strings.TrimSpace(el.Unmapped.ScanID), false, nil
}

func parseOCSFStatusCode(s string) (cloudsecurity.Result, bool, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "PASS":
		return cloudsecurity.ResultPass, false, nil
	case "FAIL":
		return cloudsecurity.ResultFail, false, nil
	case "MANUAL":
		return cloudsecurity.ResultManual, false, nil
	case "":
		return "", false, missing("status_code")
	}
	return "", false, invalid("status_code", "unknown status_code %q (want PASS, FAIL or MANUAL)", s)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if t := strings.TrimSpace(v); t != "" {
			return t
		}
	}
	return ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if t := strings.TrimSpace(s); t != "" {
			out = append(out, t)
		}
	}
	return out
}
