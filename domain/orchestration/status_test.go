package orchestration_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain/orchestration"
)

func TestLaterStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, want orchestration.Status }{
		{"", orchestration.StatusRequested, orchestration.StatusRequested},
		{orchestration.StatusRunning, orchestration.StatusRequested, orchestration.StatusRunning},
		{orchestration.StatusRequested, orchestration.StatusCompleted, orchestration.StatusCompleted},
		{orchestration.StatusFailed, orchestration.StatusRunning, orchestration.StatusFailed},
	} {
		assert.Equal(t, tc.want, orchestration.LaterStatus(tc.a, tc.b), "%q, %q", tc.a, tc.b)
		assert.Equal(t, tc.want, orchestration.LaterStatus(tc.b, tc.a), "order of arguments: %q, %q", tc.b, tc.a)
	}
}
