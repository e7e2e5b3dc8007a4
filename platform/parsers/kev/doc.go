// Package kev reads the CISA Known Exploited Vulnerabilities catalogue in
// its two published forms into a domain/threatintel.Catalogue:
//
//   - kev-json: the feed known_exploited_vulnerabilities.json, an object
//     {title, catalogVersion, dateReleased, count, vulnerabilities[]};
//   - kev-csv: known_exploited_vulnerabilities.csv, a header line naming
//     the columns (cveID, vendorProject, ..., cwes) and one entry per
//     record. It has no catalogVersion, dateReleased or count.
//
// A catalogue is read whole (the feed is about 1.5 MB for 1,500 entries)
// and validated whole: a syntax error, a truncated file, a count that does
// not match the entries, an entry missing a required field, a date that is
// not one, a CVE id twice, all reject the catalogue with a *ParseError (the
// caller appends nothing and the last accepted catalogue stays in force).
// Options.AllowPartial accepts a count larger than the entries, for
// excerpts of a real feed (which keep the real count).
//
// Traps handled: dateReleased has 4 fractional digits (RFC 3339 with any
// fraction is accepted); dateAdded and dueDate are plain dates and dueDate
// can precede dateAdded; knownRansomwareCampaignUse is "Known"/"Unknown"
// (absent reads Unknown, anything else is refused); vendorProject and
// product are kept untrimmed (KEVEntry.Vendor and ProductName trim); cwes
// may be [] (JSON) or one cell "CWE-59, CWE-436" (CSV); unknown fields
// (forensicTriage before it was known, future ones) are ignored, except
// forensicTriage which is kept; a UTF-8 byte order mark is skipped.
//
// Limits: MaxFeedBytes per feed, MaxEntries entries, MaxFieldBytes per
// text. The package imports the standard library and domain/... only.
package kev
