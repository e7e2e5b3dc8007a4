package eventstore_test

import (
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
)

// BenchmarkPersonalCodec: the cost of sealing and opening the personal
// fields of an event (RiskAccepted: approver and reason) against the same
// codec without keys (the baseline, clear values) in the same run.
func BenchmarkPersonalCodec(b *testing.B) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := risk.RiskAccepted{AcceptanceID: "a1", RiskID: "r1", Reason: "compensating control in place until Q3", Approver: "alice@example.com",
		Scope: risk.Scope{}, ExpiresAt: when, AcceptedAt: when}
	for _, c := range []struct {
		name  string
		keyed bool
	}{{"baseline_clear", false}, {"sealed", true}} {
		codec := eventstore.NewDomainCodec()
		if c.keyed {
			codec.SetSubjectKeys(keyring(b))
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			for b.Loop() {
				if _, err := codec.EncodeFor("t1", ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		ne, err := codec.EncodeFor("t1", ev)
		if err != nil {
			b.Fatal(err)
		}
		rec := eventstore.RecordedEvent{Type: ne.Type, SchemaVersion: ne.SchemaVersion, Data: ne.Data}
		b.Run(c.name+"/decode", func(b *testing.B) {
			for b.Loop() {
				if _, err := codec.Decode(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
