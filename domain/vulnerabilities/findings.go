package vulnerabilities

// Location is a place in a scanned file: lines are 1-based and inclusive;
// 0 when unknown.
type Location struct {
	StartLine int `json:"start_line,omitempty"`
	EndLine   int `json:"end_line,omitempty"`
}

// MisconfigStatus is the verdict of a configuration check.
type MisconfigStatus string

const (
	MisconfigFail      MisconfigStatus = "fail"
	MisconfigPass      MisconfigStatus = "pass"
	MisconfigException MisconfigStatus = "exception"
)

// Misconfiguration is one configuration check's verdict on one file
// (Trivy Results[].Misconfigurations, class "config").
type Misconfiguration struct {
	// ID is the check's id (DS002, AVD-AWS-0086...) and AVDID Aqua's
	// vulnerability database id when given.
	ID          string          `json:"id"`
	AVDID       string          `json:"avd_id,omitempty"`
	Type        string          `json:"type,omitempty"` // "Dockerfile Security Check"
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Message     string          `json:"message,omitempty"`
	Resolution  string          `json:"resolution,omitempty"`
	Severity    Severity        `json:"severity"`
	Status      MisconfigStatus `json:"status"`
	PrimaryURL  string          `json:"primary_url,omitempty"`
	References  []string        `json:"references,omitempty"`
	// Target is the file, ConfigType its kind (dockerfile, terraform...).
	Target     string `json:"target"`
	ConfigType string `json:"config_type,omitempty"`
	// Cause: the resource, provider and service Trivy names, and the lines.
	// The offending code itself is not kept.
	Resource string   `json:"resource,omitempty"`
	Provider string   `json:"provider,omitempty"`
	Service  string   `json:"service,omitempty"`
	Cause    Location `json:"cause,omitzero"`
}

// Secret is a secret found in a file: the rule that matched and where.
// It never holds the secret's value, nor the matched line, nor the code
// around it (Trivy's Match and Code, masked or not, are dropped by the
// parser): only the rule, the file and the lines.
type Secret struct {
	RuleID   string   `json:"rule_id"`
	Category string   `json:"category,omitempty"`
	Title    string   `json:"title,omitempty"`
	Severity Severity `json:"severity"`
	Target   string   `json:"target"`
	Location Location `json:"location"`
	Layer    string   `json:"layer,omitempty"`
}
