// Package steampipe reads the output of `steampipe query --output json`
// into inventory records (domain/cloudassets.Record): the anti-corruption
// layer between Steampipe's tables and the asset inventory.
//
// Both shapes are read: the plain array of rows that the CLI wrote before
// v0.24, and the envelope {"columns":[...],"rows":[...],"metadata":{...}}
// it writes since. Rows are streamed one at a time; the asset each names
// follows the identity rule of domain/cloudassets (docs/assets.md). Pure:
// no I/O but the reader it is given.
package steampipe
