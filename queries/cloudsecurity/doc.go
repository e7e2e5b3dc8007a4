// Package cloudsecurity holds the cloud-security module's queries: the
// team's findings (ListFindings), its muting rules (ListMutingRules,
// GetMutingRule), the rules due to expire (DueMutingRules, for the expiry
// scheduler) and what the scans say of one imported finding
// (ImportedFinding, for the triage commands), read from
// cspm_cloud_security (findings, muting_rules), the read models of
// projections/cloudsecurity. They use the shared kit of package queries.
package cloudsecurity
