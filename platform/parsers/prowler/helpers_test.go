package prowler

import (
	"context"
	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"testing"
)

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func errContextCanceled() error { return context.Canceled }

type observation = cloudsecurity.Observation
