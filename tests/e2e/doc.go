// Package e2e holds end-to-end tests: they build the cspm binary, run it as a
// user would (serve, then the CLI against the data it left) and check what
// comes out. They need only the Go toolchain, and run with `make test`.
package e2e
