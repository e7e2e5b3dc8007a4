// Package domain holds what every module's domain code shares: the error
// vocabulary. It imports the standard library only (make lint checks).
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound: the aggregate or resource does not exist (HTTP 404).
var ErrNotFound = errors.New("not found")

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of an input (HTTP 400).
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Validator collects field errors; Err returns nil when there are none.
type Validator struct{ fields []FieldError }

// Add records a problem with field.
func (v *Validator) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records a problem with field when ok is false.
func (v *Validator) Check(ok bool, field, format string, args ...any) {
	if !ok {
		v.Add(field, format, args...)
	}
}

// Err is a *ValidationError naming every problem, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}

// RuleError is a domain rule violation: the input is well formed but the
// aggregate's state forbids the command (HTTP 422), e.g. completing a scan
// that never started.
type RuleError struct {
	Code    string // stable, upper snake case, e.g. SCAN_NOT_RUNNING
	Message string
}

func (e *RuleError) Error() string { return e.Message }

// Rule builds a *RuleError.
func Rule(code, format string, args ...any) error {
	return &RuleError{Code: code, Message: fmt.Sprintf(format, args...)}
}
