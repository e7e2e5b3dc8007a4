package risk

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A key risk indicator (stream "kri-<id>"): what is measured, in which
// unit, and the thresholds at which it turns amber and red. A manual KRI
// is measured by people (KRIMeasured events); a computed one is measured
// by the projection risk.kris from other modules' events (its source).

// KRI sources.
const (
	SourceManual = "manual"
	// SourceOpenCriticalFindings: the open critical imported findings of
	// one cloud account (Account) of the team.
	SourceOpenCriticalFindings = "open_critical_findings"
	// SourceKEVOverdue: the team's open vulnerability occurrences listed
	// in CISA's KEV catalogue whose KEV due date has passed.
	SourceKEVOverdue = "kev_overdue"
)

// SeriesOf names the series of points a computed KRI of source (and
// account) reads: "open_critical_findings/<account>" or "kev_overdue"
// ("" for a manual KRI, whose points are its own measurements). Every
// KRI of one source and account reads the same series.
func SeriesOf(source, account string) string {
	switch source {
	case SourceOpenCriticalFindings:
		return SourceOpenCriticalFindings + "/" + account
	case SourceKEVOverdue:
		return SourceKEVOverdue
	}
	return ""
}

// Sources are the sources a KRI may have.
var Sources = []string{SourceManual, SourceOpenCriticalFindings, SourceKEVOverdue}

// Directions.
const (
	HigherIsWorse = "higher_is_worse"
	LowerIsWorse  = "lower_is_worse"
)

// Breach states.
const (
	Green = "green"
	Amber = "amber"
	Red   = "red"
)

// KRISpec is what a KRI is.
type KRISpec struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Unit        string  `json:"unit"`
	Direction   string  `json:"direction"`
	Amber       float64 `json:"amber"` // the value from which it is amber
	Red         float64 `json:"red"`   // the value from which it is red
	Source      string  `json:"source"`
	Account     string  `json:"account,omitempty"` // SourceOpenCriticalFindings: the cloud account
	RiskID      string  `json:"risk_id,omitempty"` // the risk it watches, if any
}

// KRIDefined: a KRI is defined (or redefined) from DefinedAt.
type KRIDefined struct {
	KRIID     string    `json:"kri_id"`
	Spec      KRISpec   `json:"spec"`
	DefinedAt time.Time `json:"defined_at"`
}

// KRIMeasured: a manual KRI's value at MeasuredAt.
type KRIMeasured struct {
	KRIID      string    `json:"kri_id"`
	Value      float64   `json:"value"`
	Note       string    `json:"note,omitempty"`
	MeasuredAt time.Time `json:"measured_at"`
}

// KRIRetired: the KRI is no longer watched.
type KRIRetired struct {
	KRIID     string    `json:"kri_id"`
	RetiredAt time.Time `json:"retired_at"`
}

// ComputedKRIObserved: a computed KRI was seen at a new breach state, or
// at a new value while amber or red (decision 100). The value and its
// time are the latest point of the KRI's series (risk.kris); State is
// its breach state under the definition in force when it was observed.
// It is how a computed KRI's breach reaches other modules' read models
// (the dashboard) without their reading cspm_risk_management.
type ComputedKRIObserved struct {
	KRIID      string    `json:"kri_id"`
	Value      float64   `json:"value"`
	State      string    `json:"state"`
	MeasuredAt time.Time `json:"measured_at"`
	ObservedAt time.Time `json:"observed_at"`
}

func (KRIDefined) EventType() string          { return "KRIDefined" }
func (KRIMeasured) EventType() string         { return "KRIMeasured" }
func (KRIRetired) EventType() string          { return "KRIRetired" }
func (ComputedKRIObserved) EventType() string { return "ComputedKRIObserved" }

// Rule codes of KRIs.
const (
	CodeKRIUnknown  = "KRI_NOT_DEFINED"
	CodeKRIRetired  = "KRI_RETIRED"
	CodeKRIComputed = "KRI_COMPUTED"
	CodeKRIManual   = "KRI_MANUAL"
)

// State is the breach state of value under s: with higher_is_worse, red
// from Red up, amber from Amber up, green below; with lower_is_worse the
// other way round.
func (s KRISpec) State(value float64) string {
	if s.Direction == LowerIsWorse {
		switch {
		case value <= s.Red:
			return Red
		case value <= s.Amber:
			return Amber
		}
		return Green
	}
	switch {
	case value >= s.Red:
		return Red
	case value >= s.Amber:
		return Amber
	}
	return Green
}

// CheckKRI validates a KRI's definition.
func CheckKRI(s KRISpec) (KRISpec, error) {
	var v domain.Validator
	s.Name, s.Description, s.Unit = strings.TrimSpace(s.Name), strings.TrimSpace(s.Description), strings.TrimSpace(s.Unit)
	s.Account, s.RiskID = strings.TrimSpace(s.Account), strings.TrimSpace(s.RiskID)
	v.Check(s.Name != "", "name", "is required")
	v.Text("name", s.Name, domain.MaxShortText)
	v.MultilineText("description", s.Description, domain.MaxDescription)
	v.Check(s.Unit != "", "unit", "is required")
	v.Text("unit", s.Unit, domain.MaxShortText)
	v.Check(s.Direction == HigherIsWorse || s.Direction == LowerIsWorse, "direction", "must be %s or %s", HigherIsWorse, LowerIsWorse)
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	v.Check(finite(s.Amber), "amber", "must be a number")
	v.Check(finite(s.Red), "red", "must be a number")
	if s.Direction == HigherIsWorse {
		v.Check(s.Amber <= s.Red, "red", "must not be below amber (higher is worse)")
	} else if s.Direction == LowerIsWorse {
		v.Check(s.Amber >= s.Red, "red", "must not be above amber (lower is worse)")
	}
	v.Check(slices.Contains(Sources, s.Source), "source", "must be one of %s", strings.Join(Sources, ", "))
	v.Check(s.Source != SourceOpenCriticalFindings || s.Account != "", "account", "is required for source %s", SourceOpenCriticalFindings)
	v.Check(s.Source == SourceOpenCriticalFindings || s.Account == "", "account", "is only for source %s", SourceOpenCriticalFindings)
	v.Text("account", s.Account, domain.MaxShortText)
	v.Text("risk_id", s.RiskID, domain.MaxShortText)
	return s, v.Err()
}

// DefineKRI decides a new KRI.
func DefineKRI(id string, s KRISpec, at time.Time) ([]Event, error) {
	s, err := CheckKRI(s)
	if err != nil {
		return nil, err
	}
	return []Event{KRIDefined{KRIID: id, Spec: s, DefinedAt: at}}, nil
}

// KRI is a KRI's state. Build it with RehydrateKRI.
type KRI struct {
	id      string
	spec    KRISpec
	created bool
	retired bool
	lastAt  time.Time
	// observed is the last ComputedKRIObserved (nil before one).
	observed *ComputedKRIObserved
}

// RehydrateKRI rebuilds a KRI from its events.
func RehydrateKRI(events ...Event) *KRI {
	k := &KRI{}
	for _, e := range events {
		switch e := e.(type) {
		case KRIDefined:
			k.id, k.spec, k.created, k.lastAt = e.KRIID, e.Spec, true, e.DefinedAt
		case KRIMeasured:
			k.lastAt = e.MeasuredAt
		case KRIRetired:
			k.retired, k.lastAt = true, e.RetiredAt
		case ComputedKRIObserved:
			k.observed = &e
		}
	}
	return k
}

func (k *KRI) active() error {
	switch {
	case !k.created:
		return domain.Rule(CodeKRIUnknown, "the KRI was never defined")
	case k.retired:
		return domain.Rule(CodeKRIRetired, "KRI %s is retired", k.id)
	}
	return nil
}

// Redefine decides the KRI's new definition (its source may not change:
// a computed series and a manual one are not one series).
func (k *KRI) Redefine(s KRISpec, at time.Time) ([]Event, error) {
	if err := k.active(); err != nil {
		return nil, err
	}
	s, err := CheckKRI(s)
	if err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(s.Source == k.spec.Source, "source", "cannot change (it is %s)", k.spec.Source)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{KRIDefined{KRIID: k.id, Spec: s, DefinedAt: maxTime(at, k.lastAt)}}, nil
}

// Measure decides a manual measurement at measuredAt (a past time may be
// given: measurements are the series' points, in any order).
func (k *KRI) Measure(value float64, note string, measuredAt time.Time) ([]Event, error) {
	if err := k.active(); err != nil {
		return nil, err
	}
	if k.spec.Source != SourceManual {
		return nil, domain.Rule(CodeKRIComputed, "KRI %s is computed from %s: it takes no measurements", k.id, k.spec.Source)
	}
	var v domain.Validator
	v.Check(!math.IsNaN(value) && !math.IsInf(value, 0), "value", "must be a number")
	note = strings.TrimSpace(note)
	v.MultilineText("note", note, domain.MaxReason)
	v.Check(!measuredAt.IsZero(), "measured_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{KRIMeasured{KRIID: k.id, Value: value, Note: note, MeasuredAt: measuredAt}}, nil
}

// Observe decides what the latest point of a computed KRI's series
// (value at measuredAt) changes: an observation when its breach state
// under the KRI's definition differs from the last one recorded, or when
// the value moved while amber or red; nothing when it is the same, or a
// point older than the one last recorded. Observing again is therefore
// harmless: the observer may repeat itself after a restart.
func (k *KRI) Observe(value float64, measuredAt, now time.Time) ([]Event, error) {
	if err := k.active(); err != nil {
		return nil, err
	}
	if k.spec.Source == SourceManual {
		return nil, domain.Rule(CodeKRIManual, "KRI %s is manual: it is measured, not observed", k.id)
	}
	var v domain.Validator
	v.Check(!math.IsNaN(value) && !math.IsInf(value, 0), "value", "must be a number")
	v.Check(!measuredAt.IsZero(), "measured_at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	state := k.spec.State(value)
	if o := k.observed; o != nil {
		switch {
		case measuredAt.Before(o.MeasuredAt):
			return nil, nil // an older point than the one recorded
		case state == o.State && (state == Green || value == o.Value):
			return nil, nil // nothing the dashboard shows changed
		}
	}
	return []Event{ComputedKRIObserved{KRIID: k.id, Value: value, State: state, MeasuredAt: measuredAt, ObservedAt: now}}, nil
}

// Retire decides that the KRI is no longer watched.
func (k *KRI) Retire(at time.Time) ([]Event, error) {
	if err := k.active(); err != nil {
		return nil, err
	}
	return []Event{KRIRetired{KRIID: k.id, RetiredAt: maxTime(at, k.lastAt)}}, nil
}

// Spec is the KRI's definition.
func (k *KRI) Spec() KRISpec { return k.spec }

// KRIState is what the audit replay shows of a KRI.
type KRIState struct {
	KRIID    string               `json:"kri_id"`
	Spec     KRISpec              `json:"spec"`
	Retired  bool                 `json:"retired"`
	LastAt   time.Time            `json:"last_at"`
	Observed *ComputedKRIObserved `json:"observed,omitempty"` // a computed KRI's last recorded observation
}

// View is the KRI's state.
func (k *KRI) View() KRIState {
	return KRIState{KRIID: k.id, Spec: k.spec, Retired: k.retired, LastAt: k.lastAt, Observed: k.observed}
}

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
