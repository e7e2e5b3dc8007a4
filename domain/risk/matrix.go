// Package risk is the risk-management module's domain (docs/risk-management.md):
// a team's risk matrix (data, with versions), risk scenarios with their
// inherent, current and residual scores and treatment plans, key risk
// indicators (KRIs) and their measurements, and risk acceptances of
// findings and vulnerability occurrences. Pure Go: no clock, no I/O.
package risk

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Event is what every risk-management event has: its stored type name.
type Event interface{ EventType() string }

// Limits.
const (
	MaxMatrixAxis = 10 // labels per axis (likelihood, impact)
	MaxLevels     = 10
)

// MatrixSpec is a risk matrix as a person defines it: the likelihood and
// impact scales (lowest first), the levels (lowest first) and the level of
// every cell: Cells[l][i] is the level of likelihood l and impact i.
type MatrixSpec struct {
	Name       string     `json:"name"`
	Likelihood []string   `json:"likelihood"`
	Impact     []string   `json:"impact"`
	Levels     []string   `json:"levels"`
	Cells      [][]string `json:"cells"`
}

// RiskMatrixDefined: from DefinedAt the team's matrix is Matrix, under
// Version (1, 2, ...). Scores made under earlier versions keep theirs.
type RiskMatrixDefined struct {
	Version   int        `json:"version"`
	Matrix    MatrixSpec `json:"matrix"`
	DefinedAt time.Time  `json:"defined_at"`
}

func (RiskMatrixDefined) EventType() string { return "RiskMatrixDefined" }

// Rule codes.
const (
	CodeMatrixVersion   = "RISK_MATRIX_VERSION_UNKNOWN"
	CodeMatrixUnchanged = "RISK_MATRIX_UNCHANGED"
)

// DefaultMatrix is the 5x5 matrix a team starts from (version 0: never
// stored; a team that scores without defining one scores under it).
func DefaultMatrix() MatrixSpec {
	l := []string{"rare", "unlikely", "possible", "likely", "almost_certain"}
	i := []string{"negligible", "minor", "moderate", "major", "severe"}
	levels := []string{"low", "medium", "high", "critical"}
	cells := make([][]string, 5)
	for a := range 5 {
		cells[a] = make([]string, 5)
		for b := range 5 {
			switch p := (a + 1) * (b + 1); {
			case p >= 15:
				cells[a][b] = "critical"
			case p >= 8:
				cells[a][b] = "high"
			case p >= 4:
				cells[a][b] = "medium"
			default:
				cells[a][b] = "low"
			}
		}
	}
	return MatrixSpec{Name: "default 5x5", Likelihood: l, Impact: i, Levels: levels, Cells: cells}
}

func checkLabels(v *domain.Validator, field string, labels []string, max int) {
	v.Check(len(labels) >= 2, field, "must hold at least 2 labels")
	v.Check(len(labels) <= max, field, "must hold at most %d labels", max)
	seen := map[string]bool{}
	for _, s := range labels {
		v.Check(strings.TrimSpace(s) != "", field, "must not hold an empty label")
		v.Text(field, s, domain.MaxShortText)
		v.Check(!seen[s], field, "holds %q twice", s)
		seen[s] = true
	}
}

// CheckMatrix validates a matrix: every cell names one of its levels.
func CheckMatrix(m MatrixSpec) error {
	var v domain.Validator
	v.Check(strings.TrimSpace(m.Name) != "", "name", "is required")
	v.Text("name", m.Name, domain.MaxShortText)
	checkLabels(&v, "likelihood", m.Likelihood, MaxMatrixAxis)
	checkLabels(&v, "impact", m.Impact, MaxMatrixAxis)
	checkLabels(&v, "levels", m.Levels, MaxLevels)
	if err := v.Err(); err != nil {
		return err
	}
	v.Check(len(m.Cells) == len(m.Likelihood), "cells", "must hold one row per likelihood (%d)", len(m.Likelihood))
	for _, row := range m.Cells {
		if len(row) != len(m.Impact) {
			v.Add("cells", "every row must hold one level per impact (%d)", len(m.Impact))
			break
		}
		for _, c := range row {
			if !slices.Contains(m.Levels, c) {
				v.Add("cells", "%q is not one of the levels", c)
				return v.Err()
			}
		}
	}
	return v.Err()
}

// Score is a likelihood and an impact on a matrix, with the level the
// matrix gives them and the matrix version it was made under.
type Score struct {
	Likelihood    string `json:"likelihood"`
	Impact        string `json:"impact"`
	Level         string `json:"level"`
	LevelRank     int    `json:"level_rank"` // 1 = lowest level of its matrix
	MatrixVersion int    `json:"matrix_version"`
}

// Score places likelihood and impact on m (version). Unknown labels are a
// validation error naming field.likelihood / field.impact (likelihood /
// impact when field is empty).
func (m MatrixSpec) Score(version int, field, likelihood, impact string) (Score, error) {
	var v domain.Validator
	if field != "" {
		field += "."
	}
	li, ii := slices.Index(m.Likelihood, likelihood), slices.Index(m.Impact, impact)
	v.Check(li >= 0, field+"likelihood", "must be one of %s", strings.Join(m.Likelihood, ", "))
	v.Check(ii >= 0, field+"impact", "must be one of %s", strings.Join(m.Impact, ", "))
	if err := v.Err(); err != nil {
		return Score{}, err
	}
	level := m.Cells[li][ii]
	return Score{Likelihood: likelihood, Impact: impact, Level: level, LevelRank: slices.Index(m.Levels, level) + 1, MatrixVersion: version}, nil
}

// Matrix is a team's matrix history (stream "riskmatrix-<team>").
type Matrix struct {
	versions []MatrixSpec // versions[i] is version i+1
}

// RehydrateMatrix rebuilds the history from its events.
func RehydrateMatrix(events ...Event) *Matrix {
	m := &Matrix{}
	for _, e := range events {
		if d, ok := e.(RiskMatrixDefined); ok {
			m.versions = append(m.versions, d.Matrix)
		}
	}
	return m
}

// Current is the matrix in force and its version (the default, version 0,
// before any is defined).
func (m *Matrix) Current() (MatrixSpec, int) {
	if len(m.versions) == 0 {
		return DefaultMatrix(), 0
	}
	return m.versions[len(m.versions)-1], len(m.versions)
}

// Version is the matrix of version n (0: the default).
func (m *Matrix) Version(n int) (MatrixSpec, error) {
	switch {
	case n == 0:
		return DefaultMatrix(), nil
	case n < 0 || n > len(m.versions):
		return MatrixSpec{}, domain.Rule(CodeMatrixVersion, "the risk matrix has no version %d", n)
	}
	return m.versions[n-1], nil
}

// Define decides a new version of the matrix; the matrix in force again
// is a rule error (nothing to record).
func (m *Matrix) Define(spec MatrixSpec, at time.Time) ([]Event, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if err := CheckMatrix(spec); err != nil {
		return nil, err
	}
	if cur, v := m.Current(); v > 0 && sameMatrix(cur, spec) {
		return nil, domain.Rule(CodeMatrixUnchanged, "the risk matrix in force is already this one (version %d)", v)
	}
	return []Event{RiskMatrixDefined{Version: len(m.versions) + 1, Matrix: spec, DefinedAt: at}}, nil
}

func sameMatrix(a, b MatrixSpec) bool {
	if a.Name != b.Name || !slices.Equal(a.Likelihood, b.Likelihood) || !slices.Equal(a.Impact, b.Impact) ||
		!slices.Equal(a.Levels, b.Levels) || len(a.Cells) != len(b.Cells) {
		return false
	}
	for i := range a.Cells {
		if !slices.Equal(a.Cells[i], b.Cells[i]) {
			return false
		}
	}
	return true
}
