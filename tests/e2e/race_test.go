//go:build race

package e2e

// raceEnabled: the tests run with -race (CSPM_E2E_RACE=1 then builds the
// binary under test with it too, main_test.go).
const raceEnabled = true
