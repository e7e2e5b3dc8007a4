// Package bia is the business impact analysis module's domain: a BIA
// (stream "bia-<id>") groups a team's business processes, each with its
// impact over time per category, its recovery objectives (RTO, RPO, MTD)
// and its dependencies on assets and suppliers; the BIA goes draft → in
// review → approved (and back to draft to change it). Exercises (stream
// "biaexercise-<id>") test the recovery of some of a BIA's processes:
// planned, run (actual recovery times, RTO met or missed derived here),
// then lessons learned, each with an owner and a status
// (docs/bia.md, decisions 72-73).
//
// Pure Go: no clock (times are passed in), no I/O.
package bia

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cspm-es/cspm-es/domain"
)

// Event is an event of the BIA module.
type Event interface{ EventType() string }

// Minutes is a duration in whole minutes: recovery objectives, the time
// points of impact thresholds, actual recovery times. The API writes it
// as text ("30m", "4h", "1d", "3d", "1w", "1d12h"), see ParseDuration.
type Minutes = int64

// Duration units.
const (
	Hour = Minutes(60)
	Day  = 24 * Hour
	Week = 7 * Day
	// MaxDuration bounds every duration (a year).
	MaxDuration = 366 * Day
)

// ParseDuration reads "<n><unit>..." with units w, d, h, m (weeks, days,
// hours, minutes), e.g. "90m", "4h", "1d12h", "1w"; spaces are ignored.
func ParseDuration(s string) (Minutes, error) {
	s = strings.ReplaceAll(strings.TrimSpace(strings.ToLower(s)), " ", "")
	if s == "" {
		return 0, fmt.Errorf("is empty")
	}
	var total Minutes
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("%q is not a duration (e.g. 30m, 4h, 1d, 1w, 1d12h)", s)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > int64(MaxDuration) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		var unit Minutes
		switch s[i] {
		case 'w':
			unit = Week
		case 'd':
			unit = Day
		case 'h':
			unit = Hour
		case 'm':
			unit = 1
		default:
			return 0, fmt.Errorf("unit %q is not one of w, d, h, m", s[i:i+1])
		}
		total += Minutes(n) * unit
		if total > MaxDuration {
			return 0, fmt.Errorf("must be at most %s", FormatDuration(MaxDuration))
		}
		s = s[i+1:]
	}
	return total, nil
}

// FormatDuration is the canonical text of m: its weeks, days, hours and
// minutes, largest first, zero parts left out ("1d12h"; "0m" for zero).
func FormatDuration(m Minutes) string {
	if m <= 0 {
		return "0m"
	}
	var b strings.Builder
	for _, u := range []struct {
		n Minutes
		s string
	}{{Week, "w"}, {Day, "d"}, {Hour, "h"}, {1, "m"}} {
		if q := m / u.n; q > 0 {
			b.WriteString(strconv.FormatInt(q, 10) + u.s)
			m -= q * u.n
		}
	}
	return b.String()
}

// Criticality of a business process.
type Criticality string

// The criticalities.
const (
	CriticalityLow      Criticality = "low"
	CriticalityMedium   Criticality = "medium"
	CriticalityHigh     Criticality = "high"
	CriticalityCritical Criticality = "critical"
)

// Criticalities in increasing order.
var Criticalities = []Criticality{CriticalityLow, CriticalityMedium, CriticalityHigh, CriticalityCritical}

// Category is an impact category.
type Category string

// The impact categories.
const (
	Financial    Category = "financial"
	Operational  Category = "operational"
	Legal        Category = "legal"
	Reputational Category = "reputational"
)

// Categories in the order thresholds are kept.
var Categories = []Category{Financial, Operational, Legal, Reputational}

// Level is a qualitative impact level.
type Level string

// The levels, in increasing order.
const (
	LevelNegligible Level = "negligible"
	LevelLow        Level = "low"
	LevelModerate   Level = "moderate"
	LevelHigh       Level = "high"
	LevelCritical   Level = "critical"
)

// Levels in increasing order.
var Levels = []Level{LevelNegligible, LevelLow, LevelModerate, LevelHigh, LevelCritical}

// Rank is the level's place in Levels (0 for negligible, -1 if unknown).
func (l Level) Rank() int { return slices.Index(Levels, l) }

// Threshold is the impact of a disruption of one category once it has
// lasted After: a qualitative level and, optionally, a quantitative
// amount in Unit (a currency, records, people, hours of work...).
type Threshold struct {
	Category Category `json:"category"`
	After    Minutes  `json:"after_minutes"`
	Level    Level    `json:"level"`
	Amount   *float64 `json:"amount,omitempty"`
	Unit     string   `json:"unit,omitempty"`
}

// Supplier is a third party the process depends on.
type Supplier struct {
	Name    string `json:"name"`
	Service string `json:"service,omitempty"`
}

// Process is a business process as a BIA holds it (the events carry it
// whole).
type Process struct {
	ProcessID   string      `json:"process_id"`
	Name        string      `json:"name"`
	Owner       string      `json:"owner"`
	Description string      `json:"description,omitempty"`
	Criticality Criticality `json:"criticality"`
	// Impacts are sorted by category (Categories' order), then time.
	Impacts []Threshold `json:"impacts,omitempty"`
	// Recovery objectives; nil: not set yet (a BIA is submitted only when
	// each process has all three).
	RTO *Minutes `json:"rto_minutes,omitempty"`
	RPO *Minutes `json:"rpo_minutes,omitempty"`
	MTD *Minutes `json:"mtd_minutes,omitempty"`
	// Dependencies: asset ids (the cloud assets module's), sorted;
	// suppliers, sorted by name.
	Assets    []string   `json:"assets,omitempty"`
	Suppliers []Supplier `json:"suppliers,omitempty"`
}

// Complete: the process has its three recovery objectives and at least
// one impact threshold.
func (p Process) Complete() bool {
	return p.RTO != nil && p.RPO != nil && p.MTD != nil && len(p.Impacts) > 0
}

// ThresholdSpec is a threshold as a person writes it.
type ThresholdSpec struct {
	Category string   `json:"category"`
	After    string   `json:"after"` // a duration: "1h", "4h", "1d", "3d", "1w"
	Level    string   `json:"level"`
	Amount   *float64 `json:"amount,omitempty"`
	Unit     string   `json:"unit,omitempty"`
}

// ProcessSpec is a process as a person writes it (durations as text).
type ProcessSpec struct {
	Name        string          `json:"name"`
	Owner       string          `json:"owner"`
	Description string          `json:"description,omitempty"`
	Criticality string          `json:"criticality"`
	Impacts     []ThresholdSpec `json:"impacts,omitempty"`
	RTO         string          `json:"rto,omitempty"`
	RPO         string          `json:"rpo,omitempty"`
	MTD         string          `json:"mtd,omitempty"`
	Assets      []string        `json:"assets,omitempty"`
	Suppliers   []Supplier      `json:"suppliers,omitempty"`
}

// Limits of a process.
const (
	MaxProcesses  = 500
	MaxThresholds = 64
	MaxAssets     = 500
	MaxSuppliers  = 100
)

func duration(v *domain.Validator, field, s string, zeroOK bool) *Minutes {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	m, err := ParseDuration(s)
	switch {
	case err != nil:
		v.Add(field, "%v", err)
		return nil
	case m == 0 && !zeroOK:
		v.Add(field, "must be longer than 0m")
		return nil
	}
	return &m
}

// NewProcess checks spec and returns the process it describes under id.
// Field names in errors are the spec's ("impacts[2].level", "mtd").
func NewProcess(id string, s ProcessSpec) (Process, error) {
	var v domain.Validator
	p := Process{ProcessID: id, Name: strings.TrimSpace(s.Name), Owner: strings.TrimSpace(s.Owner),
		Description: strings.TrimSpace(s.Description), Criticality: Criticality(strings.ToLower(strings.TrimSpace(s.Criticality)))}
	v.Check(id != "", "process_id", "is required")
	v.Check(len(id) <= 64 && validID(id), "process_id", "may contain only A-Z, a-z, 0-9 and . _ : - (at most 64)")
	v.Check(p.Name != "", "name", "is required")
	v.Text("name", p.Name, domain.MaxShortText)
	v.Check(p.Owner != "", "owner", "is required")
	v.Text("owner", p.Owner, domain.MaxShortText)
	v.MultilineText("description", p.Description, domain.MaxDescription)
	v.Check(slices.Contains(Criticalities, p.Criticality), "criticality", "%q is not one of low, medium, high, critical", s.Criticality)

	// Thresholds.
	v.Check(len(s.Impacts) <= MaxThresholds, "impacts", "at most %d thresholds", MaxThresholds)
	type pos struct {
		t     Threshold
		field string
	}
	var all []pos
	seen := map[string]bool{}
	for i, ts := range s.Impacts {
		f := fmt.Sprintf("impacts[%d]", i)
		t := Threshold{Category: Category(strings.ToLower(strings.TrimSpace(ts.Category))), Level: Level(strings.ToLower(strings.TrimSpace(ts.Level))),
			Amount: ts.Amount, Unit: strings.TrimSpace(ts.Unit)}
		ok := true
		if !slices.Contains(Categories, t.Category) {
			v.Add(f+".category", "%q is not one of financial, operational, legal, reputational", ts.Category)
			ok = false
		}
		if t.Level.Rank() < 0 {
			v.Add(f+".level", "%q is not one of negligible, low, moderate, high, critical", ts.Level)
			ok = false
		}
		after := duration(&v, f+".after", ts.After, false)
		if after == nil {
			v.Check(strings.TrimSpace(ts.After) != "", f+".after", "is required (e.g. 1h, 4h, 1d, 3d, 1w)")
			ok = false
		} else {
			t.After = *after
		}
		if t.Amount != nil && (math.IsNaN(*t.Amount) || math.IsInf(*t.Amount, 0) || *t.Amount < 0) {
			v.Add(f+".amount", "must be a number of at least 0")
			ok = false
		}
		v.Check(t.Amount != nil || t.Unit == "", f+".unit", "goes with an amount")
		v.Text(f+".unit", t.Unit, 32)
		key := string(t.Category) + "/" + strconv.FormatInt(t.After, 10)
		if ok && seen[key] {
			v.Add(f+".after", "%s has a %s threshold at %s already", t.Category, t.Category, FormatDuration(t.After))
			ok = false
		}
		seen[key] = true
		if ok {
			all = append(all, pos{t, f})
		}
	}
	slices.SortStableFunc(all, func(a, b pos) int {
		if c := slices.Index(Categories, a.t.Category) - slices.Index(Categories, b.t.Category); c != 0 {
			return c
		}
		return int(a.t.After - b.t.After)
	})
	// Within a category, impact never decreases as the disruption lasts,
	// and amounts share one unit.
	for i := 1; i < len(all); i++ {
		prev, cur := all[i-1].t, all[i].t
		if prev.Category != cur.Category {
			continue
		}
		v.Check(cur.Level.Rank() >= prev.Level.Rank(), all[i].field+".level",
			"%s impact cannot fall from %s at %s to %s at %s", cur.Category, prev.Level, FormatDuration(prev.After), cur.Level, FormatDuration(cur.After))
		if prev.Amount != nil && cur.Amount != nil {
			v.Check(*cur.Amount >= *prev.Amount, all[i].field+".amount",
				"%s impact cannot fall from %g at %s to %g at %s", cur.Category, *prev.Amount, FormatDuration(prev.After), *cur.Amount, FormatDuration(cur.After))
			v.Check(cur.Unit == prev.Unit, all[i].field+".unit", "the %s amounts share one unit (%q)", cur.Category, prev.Unit)
		}
	}
	for _, a := range all {
		p.Impacts = append(p.Impacts, a.t)
	}

	// Recovery objectives: RTO and MTD longer than zero, RPO zero or
	// longer (no data loss allowed); RTO ≤ MTD; the MTD no later than the
	// first time an impact becomes critical (past that, the disruption is
	// not tolerable, by the analysis's own thresholds).
	p.RTO = duration(&v, "rto", s.RTO, false)
	p.RPO = duration(&v, "rpo", s.RPO, true)
	p.MTD = duration(&v, "mtd", s.MTD, false)
	if p.RTO != nil && p.MTD != nil && *p.MTD < *p.RTO {
		v.Add("mtd", "must be at least the RTO (%s)", FormatDuration(*p.RTO))
	}
	if p.MTD != nil {
		for _, t := range p.Impacts {
			if t.Level == LevelCritical {
				if *p.MTD > t.After {
					v.Add("mtd", "must not exceed %s, when the %s impact becomes critical", FormatDuration(t.After), t.Category)
				}
				break
			}
		}
	}

	// Dependencies.
	v.Check(len(s.Assets) <= MaxAssets, "assets", "at most %d assets", MaxAssets)
	assets := map[string]bool{}
	for i, a := range s.Assets {
		a = strings.TrimSpace(a)
		f := fmt.Sprintf("assets[%d]", i)
		v.Check(a != "", f, "is empty")
		v.Text(f, a, domain.MaxReference)
		v.Check(a == "" || !assets[a], f, "%q is listed twice", a)
		if a != "" && !assets[a] {
			assets[a] = true
			p.Assets = append(p.Assets, a)
		}
	}
	slices.Sort(p.Assets)
	v.Check(len(s.Suppliers) <= MaxSuppliers, "suppliers", "at most %d suppliers", MaxSuppliers)
	suppliers := map[string]bool{}
	for i, sp := range s.Suppliers {
		sp = Supplier{Name: strings.TrimSpace(sp.Name), Service: strings.TrimSpace(sp.Service)}
		f := fmt.Sprintf("suppliers[%d]", i)
		v.Check(sp.Name != "", f+".name", "is required")
		v.Text(f+".name", sp.Name, domain.MaxShortText)
		v.Text(f+".service", sp.Service, domain.MaxShortText)
		k := strings.ToLower(sp.Name)
		v.Check(sp.Name == "" || !suppliers[k], f+".name", "%q is listed twice", sp.Name)
		if sp.Name != "" && !suppliers[k] {
			suppliers[k] = true
			p.Suppliers = append(p.Suppliers, sp)
		}
	}
	slices.SortFunc(p.Suppliers, func(a, b Supplier) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	if err := v.Err(); err != nil {
		return Process{}, err
	}
	return p, nil
}

func validID(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
