package prowler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cspm-es/cspm-es/domain/assessments"
)

// Prowler's compliance frameworks (prowler/compliance/<provider>/<name>.json:
// {Framework, Name, Version, Provider, Description, Requirements: [{Id,
// Name, Description, Attributes: [{Section, SubSection, ...}], Checks}]})
// are the mapping behind every result's compliance field. ParseFramework
// reads one into an assessments catalogue: every requirement is assessable
// (Prowler has no header nodes), its section is its first attribute's
// Section, its checks are the checks that evaluate it (none: a manual
// requirement). The framework id is Framework, Version and Provider as a
// slug (NIST-CSF, 2.0, AWS → nist-csf-2.0-aws); the catalogue carries no
// version of its own (the loader names it by its content).

// MaxFrameworkBytes bounds a framework file (the largest, ~1 MB).
const MaxFrameworkBytes = 16 << 20

type frameworkFile struct {
	Framework    string `json:"Framework"`
	Name         string `json:"Name"`
	Version      string `json:"Version"`
	Provider     string `json:"Provider"`
	Description  string `json:"Description"`
	Requirements []struct {
		ID          string `json:"Id"`
		Name        string `json:"Name"`
		Description string `json:"Description"`
		Attributes  []struct {
			Section    string `json:"Section"`
			SubSection string `json:"SubSection"`
		} `json:"Attributes"`
		Checks []string `json:"Checks"`
	} `json:"Requirements"`
}

// FrameworkError is a framework file refused whole.
type FrameworkError struct{ Reason string }

func (e *FrameworkError) Error() string { return "prowler compliance framework: " + e.Reason }

// IsFramework tells whether head (a file's first bytes) looks like a
// Prowler compliance framework.
func IsFramework(head []byte) bool {
	return bytes.Contains(head, []byte(`"Framework"`)) && bytes.Contains(head, []byte(`"Requirements"`))
}

// ParseFramework reads a Prowler compliance framework whole.
func ParseFramework(r io.Reader) (assessments.Catalogue, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFrameworkBytes+1))
	if err != nil {
		return assessments.Catalogue{}, fmt.Errorf("prowler compliance framework: read: %w", err)
	}
	if len(b) > MaxFrameworkBytes {
		return assessments.Catalogue{}, &FrameworkError{Reason: fmt.Sprintf("larger than %d bytes", MaxFrameworkBytes)}
	}
	var f frameworkFile
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &f); err != nil {
		return assessments.Catalogue{}, &FrameworkError{Reason: "not JSON of a framework: " + err.Error()}
	}
	if f.Framework == "" || len(f.Requirements) == 0 {
		return assessments.Catalogue{}, &FrameworkError{Reason: "no Framework or no Requirements"}
	}
	c := assessments.Catalogue{
		Framework:   assessments.FrameworkSlug(strings.Join([]string{f.Framework, f.Version, f.Provider}, "-")),
		Name:        strings.TrimSpace(f.Name),
		Description: f.Description,
		Provider:    f.Provider,
		Source:      assessments.SourceProwler,
	}
	if c.Name == "" {
		c.Name = f.Framework + " " + f.Version
	}
	for _, q := range f.Requirements {
		req := assessments.Requirement{ID: q.ID, RefID: strings.TrimSpace(q.Name), Description: q.Description, Assessable: true, Depth: 1}
		if len(q.Attributes) > 0 {
			req.Section = strings.TrimSpace(q.Attributes[0].Section)
		}
		if len(q.Checks) > 0 {
			req.Checks = append([]string(nil), q.Checks...)
		}
		c.Requirements = append(c.Requirements, req)
	}
	if err := c.Validate(); err != nil {
		return assessments.Catalogue{}, &FrameworkError{Reason: err.Error()}
	}
	return c, nil
}
