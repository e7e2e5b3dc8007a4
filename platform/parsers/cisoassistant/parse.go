// Package cisoassistant reads CISO Assistant libraries (the YAML framework
// libraries of intuitem/ciso-assistant-community, as JSON) into the
// assessments module's catalogues and requirement mappings:
//
//   - a framework library: {urn, ref_id, name, version, provider, ...,
//     objects: {framework: {urn, ref_id, name, requirement_nodes: [...]}}};
//     each node has a urn, depth, assessable, and optionally parent_urn,
//     ref_id, name, description. The node's urn is the requirement's id,
//     its depth-1 ancestor's label its section; the library's version is
//     the catalogue's version; the framework urn's last segment, as a slug,
//     the framework id (urn:intuitem:risk:framework:nist-ai-rmf-1.0 →
//     nist-ai-rmf-1.0).
//   - a mapping library: objects.requirement_mapping_set (or a list,
//     requirement_mapping_sets) with source_framework_urn,
//     target_framework_urn and requirement_mappings [{source_requirement_urn,
//     target_requirement_urn, relationship}]; not_related pairs are dropped.
//     The versions are left empty: the loader pins the versions loaded.
//
// Traps: some nodes have a name and no ref_id (EU AI Act articles), some
// neither (descriptive text nodes, not assessable); names carry trailing
// spaces ("CHAPTER III "); a node may precede its parent in no library seen
// but parents are resolved after reading all nodes. The package imports
// the standard library and domain/... only.
package cisoassistant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cspm-es/cspm-es/domain/assessments"
)

// MaxLibraryBytes bounds a library (the complete EU AI Act is ~1.5 MB).
const MaxLibraryBytes = 32 << 20

// ErrNotALibrary: the file is JSON but holds no framework nor mapping set.
var ErrNotALibrary = errors.New("not a CISO Assistant library (no objects.framework nor objects.requirement_mapping_set)")

// Library is what a library holds: a framework catalogue, mapping sets, or both.
type Library struct {
	Catalogue *assessments.Catalogue
	Mappings  []assessments.MappingSet
}

type node struct {
	URN         string `json:"urn"`
	RefID       string `json:"ref_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	ParentURN   string `json:"parent_urn"`
	Depth       int    `json:"depth"`
	Assessable  bool   `json:"assessable"`
}

type mappingSet struct {
	URN          string `json:"urn"`
	RefID        string `json:"ref_id"`
	Name         string `json:"name"`
	SourceURN    string `json:"source_framework_urn"`
	TargetURN    string `json:"target_framework_urn"`
	Requirements []struct {
		Source       string `json:"source_requirement_urn"`
		Target       string `json:"target_requirement_urn"`
		Relationship string `json:"relationship"`
	} `json:"requirement_mappings"`
}

type library struct {
	URN         string          `json:"urn"`
	Locale      string          `json:"locale"`
	RefID       string          `json:"ref_id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Copyright   string          `json:"copyright"`
	Version     json.RawMessage `json:"version"`
	Published   string          `json:"publication_date"`
	Provider    string          `json:"provider"`
	Objects     struct {
		Framework *struct {
			URN         string `json:"urn"`
			RefID       string `json:"ref_id"`
			Name        string `json:"name"`
			Description string `json:"description"`
			Nodes       []node `json:"requirement_nodes"`
		} `json:"framework"`
		MappingSet  *mappingSet  `json:"requirement_mapping_set"`
		MappingSets []mappingSet `json:"requirement_mapping_sets"`
	} `json:"objects"`
}

// ParseError is a library refused whole.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return "ciso assistant library: " + e.Reason }

// FrameworkID is the framework id of a framework urn: its last segment as a slug.
func FrameworkID(urn string) string {
	if i := strings.LastIndex(urn, ":"); i >= 0 {
		urn = urn[i+1:]
	}
	return assessments.FrameworkSlug(urn)
}

// Parse reads a library whole.
func Parse(r io.Reader) (Library, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLibraryBytes+1))
	if err != nil {
		return Library{}, fmt.Errorf("ciso assistant library: read: %w", err)
	}
	if len(b) > MaxLibraryBytes {
		return Library{}, &ParseError{Reason: fmt.Sprintf("larger than %d bytes", MaxLibraryBytes)}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var lib library
	if err := json.Unmarshal(b, &lib); err != nil {
		return Library{}, &ParseError{Reason: "not JSON of a library: " + err.Error()}
	}
	var out Library
	if fw := lib.Objects.Framework; fw != nil {
		c := assessments.Catalogue{Framework: FrameworkID(fw.URN), Version: version(lib.Version), Name: strings.TrimSpace(fw.Name),
			Description: strings.TrimSpace(fw.Description), Provider: lib.Provider, Source: assessments.SourceCISOAssistant,
			Locale: lib.Locale, Published: lib.Published, Copyright: lib.Copyright}
		if c.Name == "" {
			c.Name = strings.TrimSpace(lib.Name)
		}
		byURN := make(map[string]node, len(fw.Nodes))
		for _, n := range fw.Nodes {
			byURN[n.URN] = n
		}
		for i, n := range fw.Nodes {
			if n.URN == "" {
				return Library{}, &ParseError{Reason: fmt.Sprintf("requirement_nodes[%d] has no urn", i)}
			}
			c.Requirements = append(c.Requirements, assessments.Requirement{ID: n.URN, RefID: strings.TrimSpace(n.RefID),
				Name: strings.TrimSpace(n.Name), Description: n.Description, Parent: n.ParentURN, Depth: n.Depth,
				Section: section(byURN, n), Assessable: n.Assessable})
		}
		if err := c.Validate(); err != nil {
			return Library{}, &ParseError{Reason: err.Error()}
		}
		out.Catalogue = &c
	}
	sets := lib.Objects.MappingSets
	if lib.Objects.MappingSet != nil {
		sets = append([]mappingSet{*lib.Objects.MappingSet}, sets...)
	}
	for _, s := range sets {
		id := FrameworkID(s.URN)
		if id == "" {
			id = assessments.FrameworkSlug(s.RefID)
		}
		m := assessments.MappingSet{ID: id, Name: strings.TrimSpace(s.Name),
			Source: assessments.FrameworkRef{Framework: FrameworkID(s.SourceURN)},
			Target: assessments.FrameworkRef{Framework: FrameworkID(s.TargetURN)}}
		for _, p := range s.Requirements {
			if p.Relationship == assessments.RelNotRelated {
				continue
			}
			m.Pairs = append(m.Pairs, assessments.RequirementPair{Source: p.Source, Target: p.Target, Relationship: p.Relationship})
		}
		out.Mappings = append(out.Mappings, m)
	}
	if out.Catalogue == nil && len(out.Mappings) == 0 {
		return Library{}, &ParseError{Reason: ErrNotALibrary.Error()}
	}
	return out, nil
}

func version(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return strings.TrimSpace(str)
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return ""
}

// section is the label of n's depth-1 ancestor (n itself at depth 1).
func section(byURN map[string]node, n node) string {
	for i := 0; i < 64 && n.ParentURN != ""; i++ {
		p, ok := byURN[n.ParentURN]
		if !ok {
			break
		}
		n = p
	}
	return assessments.Requirement{ID: n.URN, RefID: strings.TrimSpace(n.RefID), Name: n.Name}.Label()
}
