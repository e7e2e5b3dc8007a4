// Package legacy reads the legacy platform's data, as mongoexport writes it
// (JSON Lines, one document a line, or one JSON array with --jsonArray) or
// as documents read from MongoDB, into typed documents: users, cloud
// accounts (the legacy accounts collection, CollCloudAccounts, and
// enhanced_cloud_accounts, merged), findings
// and scan runs. See docs/legacy-import.md for the document shapes read.
//
// Documents are MongoDB Extended JSON, canonical or relaxed ($oid, $date,
// $numberLong, $numberInt, $numberDouble...): the mongo-driver's bson
// package, the reference implementation of the Extended JSON specification
// and pure Go, decodes them (decision 94; the one exception to the parsers'
// dependency rule, platform/parsers/imports_test.go).
//
// A document that cannot be read (bad JSON, no _id, a required field
// missing or of the wrong type, a duplicate) is reported as a Problem
// (collection, index, _id, reason) and skipped: the rest is read. Only a
// reader's own failure (an I/O error, or a --jsonArray file whose array
// breaks, after which nothing can be resynchronised) stops a collection.
//
// The package is pure: it reads bytes and documents, knows no database,
// store or network.
package legacy
