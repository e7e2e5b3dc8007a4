package legacy

import "time"

// Collections the package reads.
const (
	CollUsers                 = "users"
	CollCloudAccounts         = "cloud_accounts"
	CollEnhancedCloudAccounts = "enhanced_cloud_accounts"
	CollFindings              = "findings"
	CollScanRuns              = "scan_runs"
)

// Collections lists the collections read, in import order: users, then
// accounts, then scan runs, then findings (a finding names its scan).
var Collections = []string{CollUsers, CollCloudAccounts, CollEnhancedCloudAccounts, CollScanRuns, CollFindings}

// Known reports whether collection is one the package reads.
func Known(collection string) bool {
	for _, c := range Collections {
		if c == collection {
			return true
		}
	}
	return false
}

// Source names where a document came from.
type Source struct {
	Database   string `json:"database,omitempty"` // as read (a deprecated name is mapped by the caller)
	Collection string `json:"collection"`
	Index      int    `json:"index"` // 0-based position in its file or cursor
	ID         string `json:"id,omitempty"`
}

// Problem is a document that was not read, and why.
type Problem struct {
	Source
	Reason string `json:"reason"`
}

// User is a legacy user (cspm_platform.users).
type User struct {
	Source      Source    `json:"source"`
	ID          string    `json:"id"` // the legacy _id
	TeamID      string    `json:"team_id,omitempty"`
	Email       string    `json:"email"`
	Name        string    `json:"name,omitempty"`
	Role        string    `json:"role,omitempty"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// CloudAccount is a cloud account merged from cloud_accounts and
// enhanced_cloud_accounts (see Merge).
type CloudAccount struct {
	// Sources are the documents merged, legacy first.
	Sources      []Source          `json:"sources"`
	TeamID       string            `json:"team_id,omitempty"`
	Provider     string            `json:"provider"`
	AccountID    string            `json:"account_id"` // the provider's id of the account (AWS account number...)
	Name         string            `json:"name,omitempty"`
	Organization string            `json:"organization,omitempty"`
	Status       string            `json:"status,omitempty"` // active | inactive | deleted (lower case)
	Tags         map[string]string `json:"tags,omitempty"`
	Regions      []string          `json:"regions,omitempty"`
	CreatedAt    time.Time         `json:"created_at,omitzero"`
	UpdatedAt    time.Time         `json:"updated_at,omitzero"`
}

// Key is what identifies an account across the two collections.
func (a CloudAccount) Key() string { return a.TeamID + "\x00" + a.Provider + "\x00" + a.AccountID }

// Retired reports whether the legacy platform no longer scanned the account.
func (a CloudAccount) Retired() bool {
	switch a.Status {
	case "inactive", "deleted", "disabled", "archived", "retired":
		return true
	}
	return false
}

// ScanRun is a legacy scan run (cspm_orchestration.scan_runs).
type ScanRun struct {
	Source        Source    `json:"source"`
	ID            string    `json:"id"`      // the legacy _id
	ScanID        string    `json:"scan_id"` // the scan_id field, else the _id
	TeamID        string    `json:"team_id,omitempty"`
	AccountID     string    `json:"account_id"`
	Provider      string    `json:"provider"`
	Tool          string    `json:"tool"`
	Target        string    `json:"target,omitempty"`
	Status        string    `json:"status"` // pending | running | completed | failed (lower case)
	CreatedAt     time.Time `json:"created_at,omitzero"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	CompletedAt   time.Time `json:"completed_at,omitzero"`
	ResourceCount int       `json:"resource_count,omitempty"`
	Error         string    `json:"error,omitempty"`
}

// Finding is a legacy finding (cspm_cloud_security.findings).
type Finding struct {
	Source            Source    `json:"source"`
	ID                string    `json:"id"` // the legacy _id
	TeamID            string    `json:"team_id,omitempty"`
	ScanID            string    `json:"scan_id"`
	AccountID         string    `json:"account_id,omitempty"`
	CheckID           string    `json:"check_id"`
	Title             string    `json:"title"`
	Severity          string    `json:"severity"` // lower case
	ResourceID        string    `json:"resource_id"`
	Region            string    `json:"region,omitempty"`
	Description       string    `json:"description,omitempty"`
	Status            string    `json:"status"` // open | resolved | suppressed (lower case)
	FirstSeen         time.Time `json:"first_seen,omitzero"`
	ResolvedAt        time.Time `json:"resolved_at,omitzero"`
	SuppressedReason  string    `json:"suppressed_reason,omitempty"`
	SuppressedUntil   time.Time `json:"suppressed_until,omitzero"`
	SuppressedAt      time.Time `json:"suppressed_at,omitzero"`
	ResolutionComment string    `json:"resolution_comment,omitempty"`
}

// Dataset is everything read.
type Dataset struct {
	Users    []User         `json:"users"`
	Accounts []CloudAccount `json:"accounts"`
	ScanRuns []ScanRun      `json:"scan_runs"`
	Findings []Finding      `json:"findings"`
	// Read counts the documents read per collection (read = parsed or not).
	Read map[string]int `json:"read"`
	// Problems are the documents skipped, in the order met.
	Problems []Problem `json:"problems"`
}
