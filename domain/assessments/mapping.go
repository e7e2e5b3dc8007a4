package assessments

import (
	"fmt"
	"slices"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Relationships of a requirement mapping (CISO Assistant's vocabulary).
const (
	RelEqual        = "equal"
	RelSubset       = "subset"
	RelSuperset     = "superset"
	RelIntersect    = "intersect"
	RelNotRelated   = "not_related"
	MaxMappingPairs = 20000
)

// FrameworkRef names a version of a framework.
type FrameworkRef struct {
	Framework string `json:"framework"`
	Version   string `json:"version"`
}

func (r FrameworkRef) String() string { return r.Framework + "@" + r.Version }

// RequirementPair maps a requirement of the source framework to one of the
// target framework: evidence and answers of one count for the other.
type RequirementPair struct {
	Source       string `json:"source"` // requirement id in the source framework
	Target       string `json:"target"` // requirement id in the target framework
	Relationship string `json:"relationship,omitempty"`
}

// MappingSet maps requirements of one framework version to another's.
type MappingSet struct {
	ID     string            `json:"id"` // slug
	Name   string            `json:"name,omitempty"`
	Source FrameworkRef      `json:"source"`
	Target FrameworkRef      `json:"target"`
	Pairs  []RequirementPair `json:"pairs"`
}

// Validate checks the set: an id, both frameworks, pairs with both ends,
// not_related pairs dropped by the caller.
func (m MappingSet) Validate() error {
	var v domain.Validator
	v.Check(ValidFramework(m.ID), "id", "%q is not a mapping id (lower case letters, digits, . _ -)", m.ID)
	v.Check(ValidFramework(m.Source.Framework) && m.Source.Version != "", "source", "framework and version are required")
	v.Check(ValidFramework(m.Target.Framework) && m.Target.Version != "", "target", "framework and version are required")
	v.Check(len(m.Pairs) > 0 && len(m.Pairs) <= MaxMappingPairs, "pairs", "between 1 and %d", MaxMappingPairs)
	for i, p := range m.Pairs {
		v.Check(p.Source != "" && p.Target != "", fmt.Sprintf("pairs[%d]", i), "source and target are required")
	}
	return v.Err()
}

// CheckAgainst checks that every pair names requirements of the two
// catalogues (their ids), so a mapping never points at nothing.
func (m MappingSet) CheckAgainst(source, target []Requirement) error {
	ids := func(rs []Requirement) map[string]bool {
		out := make(map[string]bool, len(rs))
		for _, r := range rs {
			out[r.ID] = true
		}
		return out
	}
	s, t := ids(source), ids(target)
	var v domain.Validator
	bad := 0
	for i, p := range m.Pairs {
		if !s[p.Source] {
			v.Add(fmt.Sprintf("pairs[%d].source", i), "%q is not a requirement of %s", p.Source, m.Source)
			bad++
		}
		if !t[p.Target] {
			v.Add(fmt.Sprintf("pairs[%d].target", i), "%q is not a requirement of %s", p.Target, m.Target)
			bad++
		}
		if bad >= 20 {
			break
		}
	}
	return v.Err()
}

// RequirementMappingLoaded: a mapping set was loaded (stream
// "reqmapping-<id>", public data). A set loaded again replaces the pairs.
type RequirementMappingLoaded struct {
	MappingID   string            `json:"mapping_id"`
	Name        string            `json:"name,omitempty"`
	Source      FrameworkRef      `json:"source"`
	Target      FrameworkRef      `json:"target"`
	Pairs       []RequirementPair `json:"pairs"`
	ContentHash string            `json:"content_hash"`
	LoadedAt    time.Time         `json:"loaded_at"`
}

func (RequirementMappingLoaded) EventType() string { return "RequirementMappingLoaded" }

// LoadMapping decides the load of m, given the hash of the set in force
// ("" when none): ErrUnchanged when it is the same content.
func LoadMapping(m MappingSet, current, contentHash string, at time.Time) ([]Event, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if current == contentHash {
		return nil, ErrUnchanged
	}
	pairs := slices.Clone(m.Pairs)
	slices.SortFunc(pairs, func(a, b RequirementPair) int {
		if a.Source != b.Source {
			return cmpStr(a.Source, b.Source)
		}
		return cmpStr(a.Target, b.Target)
	})
	return []Event{RequirementMappingLoaded{MappingID: m.ID, Name: m.Name, Source: m.Source, Target: m.Target,
		Pairs: pairs, ContentHash: contentHash, LoadedAt: at}}, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
