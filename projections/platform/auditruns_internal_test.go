package platform

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAuditRuns(t *testing.T) {
	var e auditEntry
	for _, p := range []int64{5, 3, 4, 10, 8, 9, 1} {
		assert.True(t, e.insert(p), "%d is new", p)
	}
	assert.Equal(t, []posRun{{1, 1}, {3, 5}, {8, 10}}, e.runs)
	for _, p := range []int64{1, 3, 4, 5, 8, 10} {
		assert.False(t, e.insert(p), "%d is held", p)
	}
	assert.True(t, e.insert(2))
	assert.Equal(t, []posRun{{1, 5}, {8, 10}}, e.runs, "2 joins both neighbours")
	assert.Equal(t, int64(8), e.count())

	// Any order, with repeats, gives the same runs; a long command is one run.
	want := auditEntry{}
	for p := int64(1); p <= 10_000; p++ {
		want.insert(p)
	}
	assert.Equal(t, []posRun{{1, 10_000}}, want.runs)
	var got auditEntry
	for _, p := range rand.Perm(10_000) {
		got.insert(int64(p + 1))
		got.insert(int64(p/2 + 1))
	}
	assert.Equal(t, want.runs, got.runs)
	assert.Equal(t, int64(10_000), got.count())
}
