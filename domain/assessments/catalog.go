// Package assessments is the assessments module's domain: framework
// catalogues as data (versions of a framework's requirements, loaded from
// CISO Assistant libraries or Prowler compliance mappings), requirement
// mappings between frameworks, and the Assessment aggregate (scope,
// assignees, due date, the date its evidence is taken as of, answers per
// requirement, completion progress by section). docs/assessments.md.
//
// Pure Go: no I/O, no clock (times are passed in).
package assessments

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Event is what every event of the module has: its stored type name.
type Event interface{ EventType() string }

// Catalogue sources.
const (
	SourceCISOAssistant = "ciso-assistant" // a CISO Assistant framework library (YAML/JSON)
	SourceProwler       = "prowler"        // a Prowler compliance framework (framework → check mapping)
)

// Requirement is one node of a framework: a section header (not
// assessable) or an assessable requirement. A Prowler requirement names the
// checks that evaluate it.
type Requirement struct {
	ID          string   `json:"id"`               // stable within the framework: the node's URN (CISO Assistant) or Id (Prowler)
	RefID       string   `json:"ref_id,omitempty"` // what people call it: "GOVERN 1.1", "GV.OC-1"
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Parent      string   `json:"parent,omitempty"` // the parent node's ID
	Depth       int      `json:"depth,omitempty"`
	Section     string   `json:"section,omitempty"` // the top-level section it belongs to (progress is counted per section)
	Assessable  bool     `json:"assessable"`
	Checks      []string `json:"checks,omitempty"` // the scanner checks that evaluate it (Prowler)
}

// Label is the requirement's short name: its ref id, else its name, else its id.
func (r Requirement) Label() string {
	switch {
	case r.RefID != "":
		return r.RefID
	case r.Name != "":
		return strings.TrimSpace(r.Name)
	}
	return r.ID
}

// Catalogue is one version of a framework's requirements, as a parser read it.
type Catalogue struct {
	Framework    string        `json:"framework"`         // id: lower-case slug ("nist-ai-rmf-1.0", "nist-csf-2.0-aws")
	Version      string        `json:"version,omitempty"` // the source's own version of the catalogue, when it has one
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	Provider     string        `json:"provider,omitempty"` // who publishes the framework (NIST, EU) or the cloud (AWS)
	Source       string        `json:"source"`
	Locale       string        `json:"locale,omitempty"`
	Published    string        `json:"published,omitempty"`
	Copyright    string        `json:"copyright,omitempty"`
	Requirements []Requirement `json:"requirements"`
}

// Assessable counts the assessable requirements.
func (c Catalogue) Assessable() int {
	n := 0
	for _, r := range c.Requirements {
		if r.Assessable {
			n++
		}
	}
	return n
}

// Limits of a catalogue.
const (
	MaxRequirements = 5000
	MaxChecks       = 500
	MaxText         = 20000
	MaxIDLen        = 300
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// FrameworkSlug is s as a framework id: lower case, runs of other
// characters than [a-z0-9.-_] folded to one "-".
func FrameworkSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
			dash = r == '-'
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// ValidFramework tells whether id is a framework id.
func ValidFramework(id string) bool { return slugRE.MatchString(id) }

// Validate checks a catalogue whole: a framework id, a name, at least one
// assessable requirement, unique ids, parents that exist, bounded texts.
func (c Catalogue) Validate() error {
	var v domain.Validator
	v.Check(ValidFramework(c.Framework), "framework", "%q is not a framework id (lower case letters, digits, . _ -)", c.Framework)
	v.Check(strings.TrimSpace(c.Name) != "", "name", "is required")
	v.Check(c.Source == SourceCISOAssistant || c.Source == SourceProwler, "source", "%q is not a catalogue source", c.Source)
	v.Check(len(c.Requirements) <= MaxRequirements, "requirements", "at most %d", MaxRequirements)
	v.Check(c.Assessable() > 0, "requirements", "no assessable requirement")
	seen := make(map[string]bool, len(c.Requirements))
	for i, r := range c.Requirements {
		f := fmt.Sprintf("requirements[%d]", i)
		switch {
		case r.ID == "" || len(r.ID) > MaxIDLen:
			v.Add(f+".id", "is required (at most %d bytes)", MaxIDLen)
		case seen[r.ID]:
			v.Add(f+".id", "%q appears twice", r.ID)
		}
		seen[r.ID] = true
		v.Check(len(r.Description) <= MaxText && len(r.Name) <= MaxText, f, "text longer than %d bytes", MaxText)
		v.Check(len(r.Checks) <= MaxChecks, f+".checks", "at most %d", MaxChecks)
	}
	for i, r := range c.Requirements {
		v.Check(r.Parent == "" || seen[r.Parent], fmt.Sprintf("requirements[%d].parent", i), "%q is not a node of the catalogue", r.Parent)
	}
	return v.Err()
}

// FrameworkVersionLoaded: a version of a framework's catalogue was loaded
// (stream "catalog-<framework>", public data: every team reads it).
type FrameworkVersionLoaded struct {
	Framework    string        `json:"framework"`
	Version      string        `json:"version"`
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	Provider     string        `json:"provider,omitempty"`
	Source       string        `json:"source"`
	Locale       string        `json:"locale,omitempty"`
	Published    string        `json:"published,omitempty"`
	Copyright    string        `json:"copyright,omitempty"`
	ContentHash  string        `json:"content_hash"`
	FileName     string        `json:"file_name,omitempty"`
	Requirements []Requirement `json:"requirements"`
	LoadedAt     time.Time     `json:"loaded_at"`
}

func (FrameworkVersionLoaded) EventType() string { return "FrameworkVersionLoaded" }

// Framework is the catalogue aggregate of one framework: its versions.
type Framework struct {
	id       string
	versions map[string]string // version -> content hash
}

// RehydrateFramework folds a framework's events.
func RehydrateFramework(events ...Event) *Framework {
	f := &Framework{versions: map[string]string{}}
	for _, e := range events {
		if e, ok := e.(FrameworkVersionLoaded); ok {
			f.id = e.Framework
			f.versions[e.Version] = e.ContentHash
		}
	}
	return f
}

// Versions lists the framework's versions, sorted.
func (f *Framework) Versions() []string {
	out := make([]string, 0, len(f.versions))
	for v := range f.versions {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// ErrUnchanged: the catalogue loaded is a version already loaded with the
// same content; nothing is appended.
var ErrUnchanged = fmt.Errorf("catalogue unchanged")

// LoadVersion decides the load of c as version (the source's own version,
// else one named by the content) of this framework. The same version with
// the same content is ErrUnchanged; the same version with other content is
// the rule CATALOG_VERSION_EXISTS (a changed catalogue is a new version).
func (f *Framework) LoadVersion(c Catalogue, version, contentHash, fileName string, at time.Time) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.Check(version != "" && len(version) <= 64 && !strings.ContainsAny(version, "/ \t\n"), "version", "%q is not a version (1-64 characters, no / or spaces)", version)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if f.id != "" && f.id != c.Framework {
		return nil, domain.Rule(CodeCatalogMismatch, "stream of framework %q cannot hold %q", f.id, c.Framework)
	}
	if h, ok := f.versions[version]; ok {
		if h == contentHash {
			return nil, ErrUnchanged
		}
		return nil, domain.Rule(CodeCatalogVersionExists, "framework %q already has a version %q with other content: load it as another version", c.Framework, version)
	}
	return []Event{FrameworkVersionLoaded{Framework: c.Framework, Version: version, Name: c.Name, Description: c.Description,
		Provider: c.Provider, Source: c.Source, Locale: c.Locale, Published: c.Published, Copyright: c.Copyright,
		ContentHash: contentHash, FileName: fileName, Requirements: c.Requirements, LoadedAt: at}}, nil
}
