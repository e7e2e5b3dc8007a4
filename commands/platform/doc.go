// Package platform holds the platform module's command handlers: the API
// key commands (IssueKey, RevokeKey) on ApiKey streams ("apikey-<key
// id>"). The package is named after the module, whose read models live in
// the database cspm_platform; its domain rules are in domain/access. The
// handlers run on the shared kit of package commands.
package platform
