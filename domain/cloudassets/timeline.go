package cloudassets

import (
	"slices"
	"strings"
	"time"
)

// An asset's discovery timeline is a fold over two sets, whatever order
// they arrived in:
//   - its sightings: each import that saw it (an inventory row, or a
//     finding's resource), when, and the row's content hash ("" for a
//     finding, which says nothing of the asset's configuration);
//   - the complete syncs of its scopes: when each ran.
//
// Walking them by time (ties by import id): the first sighting discovers
// the asset; a sighting whose hash differs from the last known one changes
// it; a complete sync that did not see it, later than its last sighting,
// removes it; a sighting after a removal brings it back. A partial sync,
// a result of zero rows and a row without a type are not complete syncs of
// any scope, so they remove nothing.

// Sighting is one import that saw the asset.
type Sighting struct {
	ImportID string    `json:"import_id"`
	At       time.Time `json:"at"`
	Hash     string    `json:"hash,omitempty"` // "" for a finding
	Source   string    `json:"source"`         // inventory, finding
}

// Sighting sources.
const (
	SourceInventory = "inventory"
	SourceFinding   = "finding"
)

// Sync is a complete sync of a scope.
type Sync struct {
	ImportID string    `json:"import_id"`
	At       time.Time `json:"at"`
}

// Change kinds of the discovery history.
const (
	ChangeDiscovered = "discovered"
	ChangeChanged    = "changed"
	ChangeRemoved    = "removed"
	ChangeReappeared = "reappeared"
	StatusPresent    = "present"
	StatusRemoved    = "removed"
	MaxSightings     = 256 // kept per asset (the latest; FirstSeen stays)
	MaxSyncsPerScope = 256 // complete syncs kept per scope (the latest)
)

// Change is a step of the discovery history.
type Change struct {
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	ImportID string    `json:"import_id"`
	Source   string    `json:"source,omitempty"`
}

// Timeline is an asset's discovery state.
type Timeline struct {
	Status    string    // present, removed
	FirstSeen time.Time // the earliest sighting
	LastSeen  time.Time // the latest sighting
	RemovedAt time.Time // when Status is removed
	Hash      string    // the latest inventory hash
	Changes   []Change
}

// AddSighting adds s to sightings (one per import: the earliest time, the
// inventory's hash over a finding's), keeping at most MaxSightings, the
// latest. It returns the new list, sorted.
func AddSighting(sightings []Sighting, s Sighting) []Sighting {
	out := slices.Clone(sightings)
	for i := range out {
		if out[i].ImportID != s.ImportID {
			continue
		}
		if s.At.Before(out[i].At) {
			out[i].At = s.At
		}
		if out[i].Hash == "" && s.Hash != "" {
			out[i].Hash, out[i].Source = s.Hash, s.Source
		}
		return out
	}
	out = append(out, s)
	slices.SortFunc(out, func(a, b Sighting) int { return cmpStep(a.At, a.ImportID, b.At, b.ImportID) })
	if len(out) > MaxSightings {
		out = out[len(out)-MaxSightings:]
	}
	return out
}

// AddSync adds a complete sync to syncs (once per import), keeping at most
// MaxSyncsPerScope, the latest, sorted.
func AddSync(syncs []Sync, s Sync) []Sync {
	for _, x := range syncs {
		if x.ImportID == s.ImportID {
			return syncs
		}
	}
	out := append(slices.Clone(syncs), s)
	slices.SortFunc(out, func(a, b Sync) int { return cmpStep(a.At, a.ImportID, b.At, b.ImportID) })
	if len(out) > MaxSyncsPerScope {
		out = out[len(out)-MaxSyncsPerScope:]
	}
	return out
}

func cmpStep(at time.Time, id string, bt time.Time, bid string) int {
	if c := at.Compare(bt); c != 0 {
		return c
	}
	return strings.Compare(id, bid)
}

// Fold computes the timeline of an asset from its sightings and the
// complete syncs of its scopes. firstSeen, when not zero, is a first
// sighting older than those kept.
func Fold(sightings []Sighting, syncs []Sync, firstSeen time.Time) Timeline {
	seenBy := make(map[string]bool, len(sightings))
	for _, s := range sightings {
		seenBy[s.ImportID] = true
	}
	type step struct {
		at     time.Time
		id     string
		seen   *Sighting
		isSync bool
	}
	steps := make([]step, 0, len(sightings)+len(syncs))
	for i := range sightings {
		steps = append(steps, step{at: sightings[i].At, id: sightings[i].ImportID, seen: &sightings[i]})
	}
	for _, s := range syncs {
		if !seenBy[s.ImportID] {
			steps = append(steps, step{at: s.At, id: s.ImportID, isSync: true})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmpStep(a.at, a.id, b.at, b.id) })
	var t Timeline
	present := false
	for _, s := range steps {
		if s.isSync {
			if present && s.at.After(t.LastSeen) {
				present = false
				t.Status, t.RemovedAt = StatusRemoved, s.at
				t.Changes = append(t.Changes, Change{Kind: ChangeRemoved, At: s.at, ImportID: s.id})
			}
			continue
		}
		o := s.seen
		switch {
		case t.FirstSeen.IsZero():
			t.FirstSeen = o.At
			t.Changes = append(t.Changes, Change{Kind: ChangeDiscovered, At: o.At, ImportID: o.ImportID, Source: o.Source})
		case !present:
			t.Changes = append(t.Changes, Change{Kind: ChangeReappeared, At: o.At, ImportID: o.ImportID, Source: o.Source})
		case o.Hash != "" && t.Hash != "" && o.Hash != t.Hash:
			t.Changes = append(t.Changes, Change{Kind: ChangeChanged, At: o.At, ImportID: o.ImportID, Source: o.Source})
		}
		present = true
		t.Status, t.RemovedAt = StatusPresent, time.Time{}
		if o.Hash != "" {
			t.Hash = o.Hash
		}
		if o.At.After(t.LastSeen) {
			t.LastSeen = o.At
		}
	}
	if !firstSeen.IsZero() && (t.FirstSeen.IsZero() || firstSeen.Before(t.FirstSeen)) {
		t.FirstSeen = firstSeen
	}
	return t
}
