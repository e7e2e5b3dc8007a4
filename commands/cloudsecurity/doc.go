// Package cloudsecurity holds the cloud-security module's command
// handlers: the findings commands (RaiseFindings, ResolveFinding,
// SuppressFinding) on Finding streams ("finding-<finding_id>"), the
// triage of the findings imports revealed (the same two commands on an
// imported finding's id, on its triage stream), the muting rules
// (CreateMutingRule, ChangeMutingRule, RemoveMutingRule, ExpireMutingRule)
// on MutingRule streams ("mutingrule-<rule_id>"), and the import of
// scanner reports (ImportReport) on Import streams with their scan's, over
// the domain rules of domain/cloudsecurity. They run on the shared kit of
// package commands.
package cloudsecurity
