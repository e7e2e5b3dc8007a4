package cloudsecurity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

func TestLaterStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, want cloudsecurity.Status }{
		{"", cloudsecurity.StatusOpen, cloudsecurity.StatusOpen},
		{cloudsecurity.StatusOpen, cloudsecurity.StatusSuppressed, cloudsecurity.StatusSuppressed},
		{cloudsecurity.StatusResolved, cloudsecurity.StatusSuppressed, cloudsecurity.StatusResolved},
	} {
		assert.Equal(t, tc.want, cloudsecurity.LaterStatus(tc.a, tc.b), "%q, %q", tc.a, tc.b)
		assert.Equal(t, tc.want, cloudsecurity.LaterStatus(tc.b, tc.a), "order of arguments: %q, %q", tc.b, tc.a)
	}
}
