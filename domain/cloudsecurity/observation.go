package cloudsecurity

import "time"

// Result is what a scanner concluded about one check on one resource.
type Result string

const (
	// ResultFail: the resource does not meet the check. Only a failing
	// result is ever a finding.
	ResultFail Result = "fail"
	// ResultPass: the resource meets the check. Evidence for compliance and
	// for fixing findings in its scope; never a finding.
	ResultPass Result = "pass"
	// ResultManual: the check cannot be decided by the tool and needs a
	// person (Prowler MANUAL, ASFF INFOED). Neither a pass nor a failure.
	ResultManual Result = "manual"
)

// Observation is one result a scanner reported: one check evaluated on one
// resource in one account and region, at one time. It is what a parser of a
// tool's report (platform/parsers/<tool>) produces and what an import turns
// into events; it carries the tool's words, normalised only where the tool
// is ambiguous (result, severity casing, time zone).
type Observation struct {
	// Tool is the scanner ("prowler"), ToolVersion its version as the
	// report says ("5.34.0"; "" when the report does not say).
	Tool        string
	ToolVersion string
	// Provider is the cloud or platform, lower case: aws, azure, gcp,
	// kubernetes, m365, github, ...
	Provider string
	// AccountUID identifies the account, subscription, project, tenant or
	// cluster the check ran against; AccountName and Organization (uid or
	// name, whichever the report has) describe it when the report does.
	AccountUID   string
	AccountName  string
	Organization string
	// AccountTags are the account's tags (OCSF cloud.account.labels, CSV
	// ACCOUNT_TAGS), when the report has them.
	AccountTags map[string]string
	// Region is where the tool ran the check ("" for none; "global" when
	// the tool says so).
	Region string
	// CheckID is the tool's check ("cloudtrail_multi_region_enabled");
	// CheckTitle its title; Service the service it belongs to ("cloudtrail").
	CheckID    string
	CheckTitle string
	Service    string
	// Severity is the tool's rating, lower case ("critical" ... "informational");
	// "" when the report has none.
	Severity Severity
	// Result of the check, and Muted when the tool itself muted it (a
	// Prowler mutelist; OCSF status "Suppressed", CSV MUTED=True).
	Result Result
	Muted  bool
	// StatusDetail is the tool's sentence about this result (Prowler's
	// status_extended / message).
	StatusDetail string
	// ResourceUID identifies the resource (an ARN, an Azure resource id...);
	// ResourceName, ResourceType and ResourceTags describe it.
	ResourceUID  string
	ResourceName string
	ResourceType string
	ResourceTags map[string]string
	// FindingUID is the tool's own id of this result (Prowler's
	// finding_info.uid / FindingUniqueId / ASFF Id). Recorded, never
	// trusted as identity: it collides and changes across a fix.
	FindingUID string
	// Description, Risk and Remediation are the check's texts; References
	// are URLs (remediation and related).
	Description string
	Risk        string
	Remediation string
	References  []string
	// Compliance maps a framework (the tool's slug, e.g. "CIS-3.0") to the
	// requirement ids of it the check is mapped to, as the tool names them.
	Compliance map[string][]string
	// Categories are the tool's categories of the check.
	Categories []string
	// ObservedAt is when the tool evaluated the check (UTC; naive
	// timestamps in a report are read as UTC).
	ObservedAt time.Time
}
