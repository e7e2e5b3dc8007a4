// Package cloudassets runs the cloud assets module's commands: the import
// of an asset inventory (Steampipe's JSON), which the report import of
// commands/cloudsecurity hands over for inventory formats through its
// Inventories port (wired in cmd/cspm).
package cloudassets
