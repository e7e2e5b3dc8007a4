// Package vulnerabilities holds the domain inputs of vulnerability scans
// (Trivy and the like): the scanned artifact and its identity, packages,
// vulnerability records (the catalog), occurrences (a vulnerability in one
// package installed in one artifact), misconfigurations and secrets; the
// versioned occurrence identity rule; and the catalog-merge rule that says
// which fields of a stored vulnerability record a newer report changes.
//
// It is pure: standard library and domain/... only, no clock, no I/O.
// Parsers (platform/parsers/trivy) produce these values; commands decide
// what to append. See docs/vulnerabilities.md.
package vulnerabilities
