package eventstore_test

import (
	"time"

	"github.com/cspm-es/cspm-es/domain/retention"
)

// retentionSamples are the retention policies' events for the codec's
// round trip.
func retentionSamples(when time.Time) []interface{ EventType() string } {
	return []interface{ EventType() string }{
		retention.RetentionPolicySet{Module: "scan-results", Days: 90, Reason: "GDPR <minimisation>", SetAt: when},
	}
}
