// Package domaintest holds the given/when/then outcome check the domain
// packages' table tests share. It imports only the standard library and
// domain, like the rest of domain/ (platform/archtest checks).
package domaintest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cspm-es/cspm-es/domain"
)

// Then is the expected outcome of a decision: Events, or an error of one kind.
type Then[E any] struct {
	Events   []E
	RuleCode string   // a *domain.RuleError with this code
	Fields   []string // a *domain.ValidationError naming exactly these fields
}

// AssertOutcome checks a decision's result against want. A decision that
// fails returns no events.
func AssertOutcome[E any](t testing.TB, want Then[E], got []E, err error) {
	t.Helper()
	switch {
	case want.RuleCode != "":
		var re *domain.RuleError
		if !errors.As(err, &re) {
			t.Fatalf("want rule %s, got error %v", want.RuleCode, err)
		}
		if re.Code != want.RuleCode {
			t.Errorf("rule code: want %s, got %s (%s)", want.RuleCode, re.Code, re.Message)
		}
	case want.Fields != nil:
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("want invalid fields %v, got error %v", want.Fields, err)
		}
		var fields []string
		for _, f := range ve.Fields {
			fields = append(fields, f.Field)
		}
		if !reflect.DeepEqual(want.Fields, fields) {
			t.Errorf("invalid fields: want %v, got %v", want.Fields, fields)
		}
	default:
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if !reflect.DeepEqual(want.Events, got) {
			t.Errorf("events:\nwant %#v\ngot  %#v", want.Events, got)
		}
		return
	}
	if got != nil {
		t.Errorf("a failed decision returned events: %#v", got)
	}
}
