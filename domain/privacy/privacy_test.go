package privacy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/privacy"
)

// Given a subject as an operator types it, when it is checked, then it is
// accepted or refused naming the field "subject".
func TestCheckSubject(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		given string
		ok    bool
	}{
		{"alice@example.com", true},
		{"  Jane   Doe ", true},
		{strings.Repeat("a", privacy.MaxSubjectLen), true},
		{"", false},
		{" \t ", false},
		{strings.Repeat("a", privacy.MaxSubjectLen+1), false},
	} {
		err := privacy.CheckSubject(tt.given)
		if tt.ok {
			assert.NoError(t, err, "%q", tt.given)
			continue
		}
		var ve *domain.ValidationError
		if assert.True(t, errors.As(err, &ve), "%q", tt.given) {
			assert.Equal(t, "subject", ve.Fields[0].Field)
		}
	}
	assert.Equal(t, "DataSubjectForgotten", privacy.SubjectForgotten{}.EventType())
}
