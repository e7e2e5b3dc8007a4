package bia_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	qbia "github.com/cspm-es/cspm-es/queries/bia"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// BenchmarkBIAChanges: what changed in a BIA of 100 processes across a
// history of 2,000 changes (one a minute), against reading the BIA itself
// (one document) in the same run: the comparison reads two version
// documents and a count, whatever the history's length.
//
//	go test -run '^$' -bench BIAChanges -benchtime 300x ./queries/bia/
func BenchmarkBIAChanges(b *testing.B) {
	const processes, changes = 100, 2000
	h := &qt.History{}
	at := func(m int) time.Time { return qt.T0.Add(time.Duration(m) * time.Minute) }
	h.Add("team-a", bia.BIACreated{BIAID: "b1", Details: bia.Details{Title: "Finance", Owner: "cfo"}, Status: bia.StatusDraft, CreatedAt: at(0)})
	spec := func(i int, rto string) bia.ProcessSpec {
		return bia.ProcessSpec{Name: fmt.Sprintf("process %d", i), Owner: "o", Criticality: "high", RTO: rto, RPO: "1h", MTD: "1d",
			Impacts: []bia.ThresholdSpec{{Category: "financial", After: "4h", Level: "high", Amount: ptr(1000.0), Unit: "EUR"},
				{Category: "operational", After: "1d", Level: "critical"}}}
	}
	for i := range processes {
		p, err := bia.NewProcess(fmt.Sprintf("p%03d", i), spec(i, "4h"))
		if err != nil {
			b.Fatal(err)
		}
		h.Add("team-a", bia.BusinessProcessAdded{BIAID: "b1", Process: p, AddedAt: at(1)})
	}
	for c := range changes {
		p, err := bia.NewProcess(fmt.Sprintf("p%03d", c%processes), spec(c%processes, []string{"2h", "3h", "4h"}[c%3]))
		if err != nil {
			b.Fatal(err)
		}
		h.Add("team-a", bia.BusinessProcessChanged{BIAID: "b1", Process: p, ChangedAt: at(2 + c)})
	}
	for i := range h.Events {
		h.Events[i].Version = int64(i + 1)
	}
	e := qt.OpenEnv(b, b.TempDir())
	defer e.Close(b)
	e.Seed(b, h.Events)
	s := qbia.New(e.Stores[dbregistry.BIA], func() time.Time { return at(changes + 10) })
	ctx := context.Background()

	b.Run("get (baseline)", func(b *testing.B) {
		measure(b, func(int) error { _, err := s.GetBIA(ctx, "team-a", "b1"); return err })
	})
	b.Run("changes", func(b *testing.B) {
		measure(b, func(i int) error {
			ch, err := s.GetChanges(ctx, "team-a", "b1", at(2+i%changes), time.Time{})
			if err == nil && (ch.FromVer == nil || ch.ToVer == nil || ch.Versions != changes-1-i%changes) {
				err = fmt.Errorf("from minute %d: %+v %+v %d versions", 2+i%changes, ch.FromVer, ch.ToVer, ch.Versions)
			}
			return err
		})
	})
}

func measure(b *testing.B, op func(i int) error) {
	b.Helper()
	var durs []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		i++
	}
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}
