package bia

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldChange is one field whose value differs between two versions, in
// text ("" for absent).
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// ThresholdChange is one impact threshold added, removed or changed
// (level, amount or unit) at a category and time point.
type ThresholdChange struct {
	Category Category `json:"category"`
	After    string   `json:"after"`  // a duration ("4h")
	Change   string   `json:"change"` // added, removed, changed
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
}

// ProcessChange is a process changed between two versions.
type ProcessChange struct {
	ProcessID  string            `json:"process_id"`
	Name       string            `json:"name"`
	Fields     []FieldChange     `json:"fields"`
	Thresholds []ThresholdChange `json:"thresholds"`
}

// ProcessRef names a process.
type ProcessRef struct {
	ProcessID string `json:"process_id"`
	Name      string `json:"name"`
}

// Changes is what changed in a BIA from one version to another.
type Changes struct {
	FromRevision int             `json:"from_revision"` // 0: before the BIA existed
	ToRevision   int             `json:"to_revision"`
	Fields       []FieldChange   `json:"fields"` // the BIA's own: title, description, owner, due_date, status, approval
	Added        []ProcessRef    `json:"processes_added"`
	Removed      []ProcessRef    `json:"processes_removed"`
	Changed      []ProcessChange `json:"processes_changed"`
}

func dur(m *Minutes) string {
	if m == nil {
		return ""
	}
	return FormatDuration(*m)
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func field(out []FieldChange, name, from, to string) []FieldChange {
	if from != to {
		out = append(out, FieldChange{Field: name, From: from, To: to})
	}
	return out
}

func suppliersText(ss []Supplier) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Name
		if s.Service != "" {
			parts[i] += " (" + s.Service + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func thresholdText(t Threshold) string {
	s := string(t.Level)
	if t.Amount != nil {
		s += " " + strconv.FormatFloat(*t.Amount, 'f', -1, 64)
		if t.Unit != "" {
			s += " " + t.Unit
		}
	}
	return s
}

// ProcessChanges lists the fields of a process that differ from old to
// new (impact thresholds as one field, "impacts", see ThresholdChanges).
func ProcessChanges(old, new Process) []FieldChange {
	var out []FieldChange
	out = field(out, "name", old.Name, new.Name)
	out = field(out, "owner", old.Owner, new.Owner)
	out = field(out, "description", old.Description, new.Description)
	out = field(out, "criticality", string(old.Criticality), string(new.Criticality))
	out = field(out, "rto", dur(old.RTO), dur(new.RTO))
	out = field(out, "rpo", dur(old.RPO), dur(new.RPO))
	out = field(out, "mtd", dur(old.MTD), dur(new.MTD))
	out = field(out, "assets", strings.Join(old.Assets, ", "), strings.Join(new.Assets, ", "))
	out = field(out, "suppliers", suppliersText(old.Suppliers), suppliersText(new.Suppliers))
	if len(ThresholdChanges(old.Impacts, new.Impacts)) > 0 {
		out = append(out, FieldChange{Field: "impacts", From: fmt.Sprintf("%d thresholds", len(old.Impacts)), To: fmt.Sprintf("%d thresholds", len(new.Impacts))})
	}
	return out
}

// ThresholdChanges lists the thresholds added, removed or changed from old
// to new, by category (Categories' order) then time point.
func ThresholdChanges(old, new []Threshold) []ThresholdChange {
	type key struct {
		c Category
		a Minutes
	}
	index := func(ts []Threshold) map[key]Threshold {
		m := map[key]Threshold{}
		for _, t := range ts {
			m[key{t.Category, t.After}] = t
		}
		return m
	}
	o, n := index(old), index(new)
	var keys []key
	for k := range o {
		keys = append(keys, k)
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := slices.Index(Categories, a.c) - slices.Index(Categories, b.c); c != 0 {
			return c
		}
		return int(a.a - b.a)
	})
	var out []ThresholdChange
	for _, k := range keys {
		ot, inOld := o[k]
		nt, inNew := n[k]
		c := ThresholdChange{Category: k.c, After: FormatDuration(k.a)}
		switch {
		case !inOld:
			c.Change, c.To = "added", thresholdText(nt)
		case !inNew:
			c.Change, c.From = "removed", thresholdText(ot)
		case thresholdText(ot) != thresholdText(nt):
			c.Change, c.From, c.To = "changed", thresholdText(ot), thresholdText(nt)
		default:
			continue
		}
		out = append(out, c)
	}
	return out
}

// Compare says what changed from the BIA as it was in from to as it is in
// to (a zero from: before the BIA existed, everything is added).
func Compare(from, to Snapshot) Changes {
	ch := Changes{FromRevision: from.Revision, ToRevision: to.Revision, Fields: []FieldChange{},
		Added: []ProcessRef{}, Removed: []ProcessRef{}, Changed: []ProcessChange{}}
	ch.Fields = field(ch.Fields, "title", from.Title, to.Title)
	ch.Fields = field(ch.Fields, "description", from.Description, to.Description)
	ch.Fields = field(ch.Fields, "owner", from.Owner, to.Owner)
	ch.Fields = field(ch.Fields, "due_date", day(from.DueDate), day(to.DueDate))
	ch.Fields = field(ch.Fields, "status", string(from.Status), string(to.Status))
	approval := func(a *Approval) string {
		if a == nil {
			return ""
		}
		return fmt.Sprintf("revision %d by %s at %s", a.Revision, a.By, day(a.At))
	}
	ch.Fields = field(ch.Fields, "approval", approval(from.Approval), approval(to.Approval))
	for _, p := range to.Processes {
		old, ok := from.Process(p.ProcessID)
		if !ok {
			ch.Added = append(ch.Added, ProcessRef{p.ProcessID, p.Name})
			continue
		}
		fields := ProcessChanges(old, p)
		if len(fields) == 0 {
			continue
		}
		th := ThresholdChanges(old.Impacts, p.Impacts)
		if th == nil {
			th = []ThresholdChange{}
		}
		ch.Changed = append(ch.Changed, ProcessChange{ProcessID: p.ProcessID, Name: p.Name, Fields: fields, Thresholds: th})
	}
	for _, p := range from.Processes {
		if _, ok := to.Process(p.ProcessID); !ok {
			ch.Removed = append(ch.Removed, ProcessRef{p.ProcessID, p.Name})
		}
	}
	return ch
}
