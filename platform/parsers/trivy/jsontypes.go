package trivy

// The JSON shapes of Trivy's report. Fields not listed are skipped by the
// decoder; a secret's Match and Code (the matched line and the code around
// it, masked or not) are deliberately not listed, so no byte of them is
// ever held in a value.

type reportMetadata struct {
	OS *struct {
		Family string `json:"Family"`
		Name   string `json:"Name"`
		EOSL   bool   `json:"EOSL"`
	} `json:"OS"`
	ImageID     string   `json:"ImageID"`
	RepoTags    []string `json:"RepoTags"`
	RepoDigests []string `json:"RepoDigests"`
	// Repository scans.
	Commit string `json:"Commit"`
	Branch string `json:"Branch"`
}

type trivyInfo struct {
	Version string `json:"Version"`
}

type pkgIdentifier struct {
	PURL string `json:"PURL"`
	UID  string `json:"UID"`
}

type layer struct {
	Digest string `json:"Digest"`
	DiffID string `json:"DiffID"`
}

type cvss struct {
	V2Vector  string  `json:"V2Vector"`
	V3Vector  string  `json:"V3Vector"`
	V40Vector string  `json:"V40Vector"`
	V2Score   float64 `json:"V2Score"`
	V3Score   float64 `json:"V3Score"`
	V40Score  float64 `json:"V40Score"`
}

type vulnerabilityJSON struct {
	VulnerabilityID  string          `json:"VulnerabilityID"`
	VendorIDs        []string        `json:"VendorIDs"`
	PkgID            string          `json:"PkgID"`
	PkgName          string          `json:"PkgName"`
	PkgPath          string          `json:"PkgPath"`
	PkgIdentifier    pkgIdentifier   `json:"PkgIdentifier"`
	InstalledVersion string          `json:"InstalledVersion"`
	FixedVersion     string          `json:"FixedVersion"`
	Status           string          `json:"Status"`
	Layer            layer           `json:"Layer"`
	SeveritySource   string          `json:"SeveritySource"`
	PrimaryURL       string          `json:"PrimaryURL"`
	Fingerprint      string          `json:"Fingerprint"`
	Title            string          `json:"Title"`
	Description      string          `json:"Description"`
	Severity         string          `json:"Severity"`
	CweIDs           []string        `json:"CweIDs"`
	VendorSeverity   map[string]int  `json:"VendorSeverity"`
	CVSS             map[string]cvss `json:"CVSS"`
	References       []string        `json:"References"`
	PublishedDate    string          `json:"PublishedDate"`
	LastModifiedDate string          `json:"LastModifiedDate"`
}

type packageJSON struct {
	ID         string        `json:"ID"`
	Name       string        `json:"Name"`
	Version    string        `json:"Version"`
	Release    string        `json:"Release"`
	Epoch      int           `json:"Epoch"`
	Identifier pkgIdentifier `json:"Identifier"`
	FilePath   string        `json:"FilePath"`
	Layer      layer         `json:"Layer"`
}

type misconfigurationJSON struct {
	Type          string   `json:"Type"`
	ID            string   `json:"ID"`
	AVDID         string   `json:"AVDID"`
	Title         string   `json:"Title"`
	Description   string   `json:"Description"`
	Message       string   `json:"Message"`
	Resolution    string   `json:"Resolution"`
	Severity      string   `json:"Severity"`
	PrimaryURL    string   `json:"PrimaryURL"`
	References    []string `json:"References"`
	Status        string   `json:"Status"`
	CauseMetadata struct {
		Resource  string `json:"Resource"`
		Provider  string `json:"Provider"`
		Service   string `json:"Service"`
		StartLine int    `json:"StartLine"`
		EndLine   int    `json:"EndLine"`
		// Code (the offending lines) is not read.
	} `json:"CauseMetadata"`
}

// secretJSON: no Match, no Code (see above).
type secretJSON struct {
	RuleID    string `json:"RuleID"`
	Category  string `json:"Category"`
	Severity  string `json:"Severity"`
	Title     string `json:"Title"`
	StartLine int    `json:"StartLine"`
	EndLine   int    `json:"EndLine"`
	Layer     layer  `json:"Layer"`
}

type misconfSummary struct {
	Successes  int `json:"Successes"`
	Failures   int `json:"Failures"`
	Exceptions int `json:"Exceptions"`
}
