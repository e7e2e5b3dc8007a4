//go:build race

package e2e

// raceEnabled builds the binary under test with -race when the tests run
// with it, so the binary shares the build cache and is checked for races too.
const raceEnabled = true
