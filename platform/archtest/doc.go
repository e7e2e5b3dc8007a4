// Package archtest holds tests of the module's import rules (docs/architecture.md §2).
// They run with `make test` and `make lint`.
package archtest
