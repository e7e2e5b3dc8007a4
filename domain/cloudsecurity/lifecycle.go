package cloudsecurity

import (
	"slices"
	"time"
)

// A finding's lifecycle across scans is a fold over the evaluations of its
// scope (the account, region and check it belongs to): every completed scan
// that evaluated the scope either reported the finding failing or did not.
// A finding is open from the first evaluation that reports it failing;
// fixed by the first later evaluation that does not (it reported the
// resource passing, or no longer reported it); reopened by a later one that
// reports it failing again. A person may resolve it by hand in between.
//
// The fold keeps, per finding, its runs: stretches of consecutive
// evaluations of the scope that reported it failing, each ended by the step
// that fixed it. Everything a finding shows (status, first and last seen,
// failing since, times reopened, its transitions and the scan that caused
// each) is derived from its runs. The runs depend only on which evaluations
// exist and what each reported, never on the order they were learnt in: a
// scan imported after a newer one slots into its place in time, splitting
// or joining runs as it must (History.Observe), so two scans' results give
// the same findings whichever arrives first.

// Step is one evaluation of a finding's scope by a completed scan, or a
// person's resolving of the finding by hand (Scan empty, By the actor).
// Steps are ordered by time, then by scan id, so two scans at the same
// instant still have one order.
type Step struct {
	At   time.Time `json:"at"`
	Scan string    `json:"scan,omitempty"`
	By   string    `json:"by,omitempty"`
}

// Manual reports a person's step (not a scan's).
func (s Step) Manual() bool { return s.Scan == "" }

// Before orders steps: by time, then scan id.
func (s Step) Before(o Step) bool {
	if !s.At.Equal(o.At) {
		return s.At.Before(o.At)
	}
	return s.Scan < o.Scan
}

// Same reports the same step.
func (s Step) Same(o Step) bool { return s.At.Equal(o.At) && s.Scan == o.Scan && s.By == o.By }

func compareSteps(a, b Step) int {
	switch {
	case a.Before(b):
		return -1
	case b.Before(a):
		return 1
	}
	return 0
}

// Timeline is the scan evaluations of one scope, oldest first.
type Timeline []Step

// Insert adds e in its place (a scan's evaluation is recorded once) and
// reports whether it was new.
func (tl *Timeline) Insert(e Step) bool {
	i, found := slices.BinarySearchFunc(*tl, e, compareSteps)
	if found {
		return false
	}
	*tl = slices.Insert(*tl, i, e)
	return true
}

// around returns the evaluations right before and right after e (which
// need not be in tl).
func (tl Timeline) around(e Step) (prev, next *Step) {
	i, found := slices.BinarySearchFunc(tl, e, compareSteps)
	if i > 0 {
		prev = &tl[i-1]
	}
	if found {
		i++
	}
	if i < len(tl) {
		next = &tl[i]
	}
	return prev, next
}

// Run is a stretch of consecutive evaluations of the scope that reported
// the finding failing: From the first, To the last, and Fix the step that
// ended it (the next evaluation, which did not report it, or a person
// resolving it). Fix is nil while the run is open.
type Run struct {
	From Step  `json:"from"`
	To   Step  `json:"to"`
	Fix  *Step `json:"fix,omitempty"`
}

// History is what a finding's scope evaluations said of it.
type History struct {
	Runs []Run `json:"runs"`
	// Resolutions are the times people resolved the finding by hand; kept
	// so that a scan learnt later can be placed against them.
	Resolutions []Step `json:"resolutions,omitempty"`
}

// Observe records that evaluation e of the scope reported the finding
// failing or not. tl is the scope's timeline, e included. It returns
// whether the history changed (an evaluation already recorded changes
// nothing: redeliveries are harmless).
func (h *History) Observe(e Step, failing bool, tl Timeline) bool {
	before := h.clone()
	if failing {
		h.fail(e, tl)
	} else {
		h.pass(e, tl)
	}
	return !h.equal(before)
}

// Resolve records that a person resolved the finding at m. A resolution
// while the finding is not failing changes nothing.
func (h *History) Resolve(m Step, tl Timeline) bool {
	before := h.clone()
	i, found := slices.BinarySearchFunc(h.Resolutions, m, compareSteps)
	if !found {
		h.Resolutions = slices.Insert(h.Resolutions, i, m)
	}
	h.pass(m, tl)
	return !h.equal(before)
}

// fail places failing evaluation e: inside a run nothing changes; next to
// a run it extends it (joining two runs it sits between); elsewhere it
// starts a run, ended by whatever comes next.
func (h *History) fail(e Step, tl Timeline) {
	if h.covering(e) >= 0 {
		return
	}
	prev, next := tl.around(e)
	manual := h.resolutionBetween(prev, &e) // a resolution between prev and e keeps e apart from prev's run
	a := -1
	if prev != nil && manual == nil {
		a = h.endingAt(*prev)
	}
	b := -1
	if next != nil && h.resolutionBetween(&e, next) == nil {
		b = h.startingAt(*next)
	}
	switch {
	case a >= 0 && b >= 0:
		h.Runs[a].To, h.Runs[a].Fix = h.Runs[b].To, h.Runs[b].Fix
		h.Runs = slices.Delete(h.Runs, b, b+1)
	case a >= 0:
		h.Runs[a].To, h.Runs[a].Fix = e, h.fixAfter(e, next)
	case b >= 0:
		h.Runs[b].From = e
	default:
		r := Run{From: e, To: e, Fix: h.fixAfter(e, next)}
		i, _ := slices.BinarySearchFunc(h.Runs, r, func(x, y Run) int { return compareSteps(x.From, y.From) })
		h.Runs = slices.Insert(h.Runs, i, r)
	}
}

// pass places step e that did not report the finding failing (an
// evaluation, or a person's resolution): inside a run it splits it; after
// a run whose fix comes later it becomes the fix.
func (h *History) pass(e Step, tl Timeline) {
	if i := h.covering(e); i >= 0 {
		r := h.Runs[i]
		if r.From.Same(e) || r.To.Same(e) {
			return // the evaluation is recorded as failing: a redelivery cannot reach here
		}
		prev, next := tl.around(e)
		first := Run{From: r.From, To: *prev, Fix: ptr(e)}
		h.Runs[i] = first
		if next != nil && !r.To.Before(*next) {
			h.Runs = slices.Insert(h.Runs, i+1, Run{From: *next, To: r.To, Fix: r.Fix})
		}
		return
	}
	// The last run ending before e: e fixes it if it comes before its fix.
	for i := len(h.Runs) - 1; i >= 0; i-- {
		r := &h.Runs[i]
		if r.To.Before(e) {
			if r.Fix == nil || e.Before(*r.Fix) {
				r.Fix = ptr(e)
			}
			return
		}
	}
}

// covering is the run whose stretch contains e (From <= e <= To), or -1.
func (h *History) covering(e Step) int {
	for i, r := range h.Runs {
		if !e.Before(r.From) && !r.To.Before(e) {
			return i
		}
	}
	return -1
}

func (h *History) endingAt(s Step) int {
	for i, r := range h.Runs {
		if r.To.Same(s) {
			return i
		}
	}
	return -1
}

func (h *History) startingAt(s Step) int {
	for i, r := range h.Runs {
		if r.From.Same(s) {
			return i
		}
	}
	return -1
}

// resolutionBetween is the first resolution strictly after a (or any,
// when a is nil) and before b, or nil.
func (h *History) resolutionBetween(a, b *Step) *Step {
	for i := range h.Resolutions {
		m := h.Resolutions[i]
		if (a == nil || a.Before(m)) && m.Before(*b) {
			return &h.Resolutions[i]
		}
	}
	return nil
}

// fixAfter is what ends a run whose last failing evaluation is e: the
// earlier of the next evaluation and a resolution after e; nil when
// neither exists (the run is open).
func (h *History) fixAfter(e Step, next *Step) *Step {
	var fix *Step
	if next != nil {
		fix = ptr(*next)
	}
	for _, m := range h.Resolutions {
		if e.Before(m) && (fix == nil || m.Before(*fix)) {
			fix = ptr(m)
			break
		}
	}
	return fix
}

func ptr(s Step) *Step { return &s }

func (h *History) clone() History {
	c := History{Runs: make([]Run, len(h.Runs)), Resolutions: slices.Clone(h.Resolutions)}
	for i, r := range h.Runs {
		c.Runs[i] = r
		if r.Fix != nil {
			c.Runs[i].Fix = ptr(*r.Fix)
		}
	}
	return c
}

func (h *History) equal(o History) bool {
	if len(h.Runs) != len(o.Runs) || len(h.Resolutions) != len(o.Resolutions) {
		return false
	}
	for i, r := range h.Runs {
		q := o.Runs[i]
		if !r.From.Same(q.From) || !r.To.Same(q.To) || (r.Fix == nil) != (q.Fix == nil) || (r.Fix != nil && !r.Fix.Same(*q.Fix)) {
			return false
		}
	}
	for i, m := range h.Resolutions {
		if !m.Same(o.Resolutions[i]) {
			return false
		}
	}
	return true
}

// Lifecycle states of a finding that scans found.
const (
	LifecycleOpen     = "open"     // failing in the latest evaluation of its scope
	LifecycleFixed    = "fixed"    // a later evaluation did not report it
	LifecycleResolved = "resolved" // a person resolved it, and no scan has reported it since
)

// Transition kinds, in a finding's history.
const (
	TransitionRaised   = "raised"
	TransitionReopened = "reopened"
	TransitionFixed    = "fixed"
	TransitionResolved = "resolved"
)

// Transition is one change of a finding's lifecycle and the step that
// caused it.
type Transition struct {
	Kind string `json:"kind"`
	Step
}

// Summary is what the history says of the finding now.
type Summary struct {
	Status        string    // open, fixed, resolved; "" for a history without runs
	FirstSeen     time.Time // the first evaluation that reported it failing
	LastSeen      time.Time // the last one
	FailingSince  time.Time // start of the current run (zero unless open)
	TimesReopened int
	Closed        *Step // what ended the last run (nil while open)
}

// Summarize derives the finding's current state from its runs.
func (h *History) Summarize() Summary {
	if len(h.Runs) == 0 {
		return Summary{}
	}
	first, last := h.Runs[0], h.Runs[len(h.Runs)-1]
	s := Summary{FirstSeen: first.From.At, LastSeen: last.To.At, TimesReopened: len(h.Runs) - 1}
	switch {
	case last.Fix == nil:
		s.Status, s.FailingSince = LifecycleOpen, last.From.At
	case last.Fix.Manual():
		s.Status, s.Closed = LifecycleResolved, ptr(*last.Fix)
	default:
		s.Status, s.Closed = LifecycleFixed, ptr(*last.Fix)
	}
	return s
}

// Transitions lists the finding's lifecycle changes, oldest first.
func (h *History) Transitions() []Transition {
	var out []Transition
	for i, r := range h.Runs {
		kind := TransitionRaised
		if i > 0 {
			kind = TransitionReopened
		}
		out = append(out, Transition{Kind: kind, Step: r.From})
		if r.Fix != nil {
			kind := TransitionFixed
			if r.Fix.Manual() {
				kind = TransitionResolved
			}
			out = append(out, Transition{Kind: kind, Step: *r.Fix})
		}
	}
	return out
}

// Scan changes: what a scan did to a finding (its delta).
const (
	ChangeNew       = "new"
	ChangeReopened  = "reopened"
	ChangeFixed     = "fixed"
	ChangeUnchanged = "unchanged"
)

// ScanChanges maps each scan that changed the finding to the change: new
// (it started the first run), reopened (a later run) or fixed (it ended a
// run). Scans that reported it failing within a run changed nothing
// (unchanged); they are not listed.
func (h *History) ScanChanges() map[string]string {
	out := map[string]string{}
	for i, r := range h.Runs {
		if i == 0 {
			out[r.From.Scan] = ChangeNew
		} else {
			out[r.From.Scan] = ChangeReopened
		}
		if r.Fix != nil && !r.Fix.Manual() {
			out[r.Fix.Scan] = ChangeFixed
		}
	}
	return out
}
