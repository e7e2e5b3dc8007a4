package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain"
)

func TestTextLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		multiline bool
		value     string
		max       int
		want      string // the message, "" when valid
	}{
		{name: "empty passes (required is checked apart)", value: "", max: 3},
		{name: "at the limit", value: "abc", max: 3},
		{name: "the limit counts characters, not bytes", value: "ééé", max: 3},
		{name: "over the limit", value: "abcd", max: 3, want: "must be at most 3 characters (got 4)"},
		{name: "invalid UTF-8", value: "a\xffb", max: 10, want: "must be valid UTF-8"},
		{name: "a line break in one-line text", value: "a\nb", max: 10, want: "must not contain control characters"},
		{name: "NUL in one-line text", value: "a\x00b", max: 10, want: "must not contain control characters"},
		{name: "line breaks and tabs in multi-line text", multiline: true, value: "a\r\nb\tc", max: 10},
		{name: "other control characters in multi-line text", multiline: true, value: "a\x1bb", max: 10,
			want: "must not contain control characters other than line breaks and tabs"},
		{name: "a long multi-line text", multiline: true, value: strings.Repeat("x\n", 6), max: 10, want: "must be at most 10 characters (got 12)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v domain.Validator
			if tc.multiline {
				v.MultilineText("f", tc.value, tc.max)
			} else {
				v.Text("f", tc.value, tc.max)
			}
			err := v.Err()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, &domain.ValidationError{Fields: []domain.FieldError{{Field: "f", Message: tc.want}}}, err)
		})
	}
}
