package cloudsecurity_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// scan is one evaluation of a scope: its step, and which findings of the
// scope it reported failing.
type scan struct {
	step    cloudsecurity.Step
	failing []string
}

func evalAt(h int, id string, failing ...string) scan {
	return scan{step: cloudsecurity.Step{At: t0.Add(time.Duration(h) * time.Hour), Scan: id}, failing: failing}
}

// scope folds scans of one scope into the histories of its findings, as the
// findings projection does: every finding the scope knows is told whether
// each evaluation reported it.
type scope struct {
	tl        cloudsecurity.Timeline
	histories map[string]*cloudsecurity.History
}

func newScope() *scope { return &scope{histories: map[string]*cloudsecurity.History{}} }

func (s *scope) apply(e scan) {
	if !s.tl.Insert(e.step) {
		return // this scan was applied: its results do not change
	}
	for _, f := range e.failing {
		if s.histories[f] == nil {
			s.histories[f] = &cloudsecurity.History{}
		}
	}
	for f, h := range s.histories {
		h.Observe(e.step, slices.Contains(e.failing, f), s.tl)
	}
}

func (s *scope) resolve(f string, m cloudsecurity.Step) {
	s.histories[f].Resolve(m, s.tl)
}

type want struct {
	status      string
	firstSeen   int // hours after t0
	lastSeen    int
	reopened    int
	transitions []string // "kind@hour/scan"
}

func describe(h *cloudsecurity.History) want {
	s := h.Summarize()
	w := want{status: s.Status, firstSeen: int(s.FirstSeen.Sub(t0).Hours()), lastSeen: int(s.LastSeen.Sub(t0).Hours()), reopened: s.TimesReopened}
	for _, tr := range h.Transitions() {
		who := tr.Scan
		if tr.Manual() {
			who = "by:" + tr.By
		}
		w.transitions = append(w.transitions, fmt.Sprintf("%s@%d/%s", tr.Kind, int(tr.At.Sub(t0).Hours()), who))
	}
	return w
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []scan
		then  map[string]want
	}{
		{
			name:  "first observed failing: raised and open",
			given: []scan{evalAt(1, "s1", "f")},
			then:  map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/s1"}}},
		},
		{
			name:  "observed failing again: stays open, last seen moves",
			given: []scan{evalAt(1, "s1", "f"), evalAt(2, "s2", "f"), evalAt(3, "s3", "f")},
			then:  map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 3, transitions: []string{"raised@1/s1"}}},
		},
		{
			name:  "an evaluation of the scope that no longer reports it fixes it",
			given: []scan{evalAt(1, "s1", "f", "g"), evalAt(2, "s2", "g")},
			then: map[string]want{
				"f": {status: "fixed", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/s1", "fixed@2/s2"}},
				"g": {status: "open", firstSeen: 1, lastSeen: 2, transitions: []string{"raised@1/s1"}},
			},
		},
		{
			name:  "failing after being fixed: reopened, counted",
			given: []scan{evalAt(1, "s1", "f"), evalAt(2, "s2"), evalAt(3, "s3", "f"), evalAt(4, "s4"), evalAt(5, "s5", "f")},
			then: map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 5, reopened: 2,
				transitions: []string{"raised@1/s1", "fixed@2/s2", "reopened@3/s3", "fixed@4/s4", "reopened@5/s5"}}},
		},
		{
			name:  "a scan learnt late that reports it failing before it was raised moves the raise back",
			given: []scan{evalAt(2, "s2", "f"), evalAt(1, "s1", "f")},
			then:  map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 2, transitions: []string{"raised@1/s1"}}},
		},
		{
			name:  "a late scan between two failing ones that does not report it: fixed then reopened",
			given: []scan{evalAt(1, "s1", "f"), evalAt(3, "s3", "f"), evalAt(2, "s2")},
			then: map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 3, reopened: 1,
				transitions: []string{"raised@1/s1", "fixed@2/s2", "reopened@3/s3"}}},
		},
		{
			name:  "a late scan reporting it failing between a raise and its fix extends the run",
			given: []scan{evalAt(1, "s1", "f"), evalAt(3, "s3"), evalAt(2, "s2", "f")},
			then:  map[string]want{"f": {status: "fixed", firstSeen: 1, lastSeen: 2, transitions: []string{"raised@1/s1", "fixed@3/s3"}}},
		},
		{
			name:  "a late failing scan before a fix joins nothing when an evaluation lies between",
			given: []scan{evalAt(1, "s1", "f"), evalAt(2, "s2"), evalAt(4, "s4"), evalAt(3, "s3", "f")},
			then: map[string]want{"f": {status: "fixed", firstSeen: 1, lastSeen: 3, reopened: 1,
				transitions: []string{"raised@1/s1", "fixed@2/s2", "reopened@3/s3", "fixed@4/s4"}}},
		},
		{
			name:  "a scan's results are immutable: the first word on it stands",
			given: []scan{evalAt(1, "s1", "f"), evalAt(3, "s3", "f"), evalAt(2, "s2"), evalAt(2, "s2", "f")},
			then: map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 3, reopened: 1,
				// s2 is recorded once: the first word on it stands (a scan's results are immutable).
				transitions: []string{"raised@1/s1", "fixed@2/s2", "reopened@3/s3"}}},
		},
		{
			name:  "the same scan again changes nothing (redelivery)",
			given: []scan{evalAt(1, "s1", "f"), evalAt(2, "s2"), evalAt(2, "s2"), evalAt(1, "s1", "f")},
			then:  map[string]want{"f": {status: "fixed", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/s1", "fixed@2/s2"}}},
		},
		{
			name:  "two scans at the same instant are ordered by scan id",
			given: []scan{evalAt(1, "b", "f"), evalAt(1, "a")},
			then:  map[string]want{"f": {status: "open", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/b"}}},
		},
		{
			name:  "an evaluation before a finding was ever seen changes nothing for it",
			given: []scan{evalAt(2, "s2", "f"), evalAt(1, "s1")},
			then:  map[string]want{"f": {status: "open", firstSeen: 2, lastSeen: 2, transitions: []string{"raised@2/s2"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newScope()
			for _, e := range tc.given {
				s.apply(e)
			}
			got := map[string]want{}
			for f, h := range s.histories {
				got[f] = describe(h)
			}
			assert.Equal(t, tc.then, got)
		})
	}
}

func TestLifecycleManualResolution(t *testing.T) {
	t.Parallel()
	by := func(h int) cloudsecurity.Step {
		return cloudsecurity.Step{At: t0.Add(time.Duration(h)*time.Hour + 30*time.Minute), By: "key:alice"}
	}
	t.Run("resolved by hand, then reported failing again: reopened", func(t *testing.T) {
		t.Parallel()
		s := newScope()
		s.apply(evalAt(1, "s1", "f"))
		s.resolve("f", by(1))
		assert.Equal(t, want{status: "resolved", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/s1", "resolved@1/by:key:alice"}}, describe(s.histories["f"]))
		s.apply(evalAt(2, "s2", "f"))
		assert.Equal(t, want{status: "open", firstSeen: 1, lastSeen: 2, reopened: 1,
			transitions: []string{"raised@1/s1", "resolved@1/by:key:alice", "reopened@2/s2"}}, describe(s.histories["f"]))
	})
	t.Run("resolved by hand, then a scan that does not report it: stays resolved", func(t *testing.T) {
		t.Parallel()
		s := newScope()
		s.apply(evalAt(1, "s1", "f"))
		s.resolve("f", by(1))
		s.apply(evalAt(2, "s2"))
		assert.Equal(t, "resolved", describe(s.histories["f"]).status)
	})
	t.Run("a late scan before the resolution that did not report it fixed it first", func(t *testing.T) {
		t.Parallel()
		s := newScope()
		s.apply(evalAt(1, "s1", "f"))
		s.resolve("f", by(3))
		s.apply(evalAt(2, "s2"))
		assert.Equal(t, want{status: "fixed", firstSeen: 1, lastSeen: 1, transitions: []string{"raised@1/s1", "fixed@2/s2"}}, describe(s.histories["f"]))
	})
	t.Run("resolving while it is failing across later scans: they reopen it", func(t *testing.T) {
		t.Parallel()
		s := newScope()
		s.apply(evalAt(1, "s1", "f"))
		s.apply(evalAt(3, "s3", "f"))
		s.resolve("f", by(2))
		assert.Equal(t, want{status: "open", firstSeen: 1, lastSeen: 3, reopened: 1,
			transitions: []string{"raised@1/s1", "resolved@2/by:key:alice", "reopened@3/s3"}}, describe(s.histories["f"]))
	})
}

func TestScanChanges(t *testing.T) {
	t.Parallel()
	s := newScope()
	for _, e := range []scan{evalAt(1, "s1", "f"), evalAt(2, "s2", "f"), evalAt(3, "s3"), evalAt(4, "s4", "f")} {
		s.apply(e)
	}
	assert.Equal(t, map[string]string{"s1": "new", "s3": "fixed", "s4": "reopened"}, s.histories["f"].ScanChanges())
}

// The histories are a function of the set of evaluations: any order of
// learning them gives the same runs (invariant 6, order independence).
func TestLifecycleOrderIndependence(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	findings := []string{"a", "b", "c", "d"}
	for round := range 300 {
		var scans []scan
		n := 2 + rng.IntN(7)
		for i := range n {
			var failing []string
			for _, f := range findings {
				if rng.IntN(3) > 0 {
					failing = append(failing, f)
				}
			}
			// Some scans share an instant.
			scans = append(scans, evalAt(rng.IntN(n), fmt.Sprintf("s%02d", i), failing...))
		}
		reference := fold(scans)
		for range 5 {
			shuffled := slices.Clone(scans)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got := fold(shuffled)
			require.True(t, reflect.DeepEqual(reference, got), "round %d: order %v\nwant %v\ngot  %v", round, names(shuffled), reference, got)
		}
	}
}

func fold(scans []scan) map[string]want {
	s := newScope()
	for _, e := range scans {
		s.apply(e)
	}
	out := map[string]want{}
	for f, h := range s.histories {
		out[f] = describe(h)
	}
	return out
}

func names(scans []scan) []string {
	var out []string
	for _, s := range scans {
		out = append(out, s.step.Scan)
	}
	return out
}
