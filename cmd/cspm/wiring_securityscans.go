package main

import (
	"time"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	ssquery "github.com/cspm-es/cspm-es/queries/securityscans"
)

// Native security scans (docs/security-scans.md): the reports of Nuclei,
// ZAP, testssl.sh and SSLyze are imported by the common import
// (platform/parsers registers their formats); projections/securityscans
// builds cspm_security_scans from the imports' events; these queries
// serve /api/v1/targets, certificates judged against the wall clock
// (decision 60).

// newSecurityScanQueries reads cspm_security_scans.
func newSecurityScanQueries(rm ReadModels) *ssquery.Service {
	return ssquery.New(rm.Stores[dbregistry.SECURITY_SCANS], time.Now)
}
