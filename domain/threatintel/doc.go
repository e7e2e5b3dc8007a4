// Package threatintel holds the domain inputs of threat intelligence
// feeds: the CISA Known Exploited Vulnerabilities (KEV) catalogue, its
// entries, their validation, and the catalogue diff (published, updated
// with the fields that changed, withdrawn) that makes KEV a diffed feed.
//
// It is pure: standard library and domain/... only, no clock, no I/O.
// platform/parsers/kev reads the feed's JSON and CSV forms into a
// Catalogue. See docs/vulnerabilities.md.
package threatintel
