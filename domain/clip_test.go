package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/cspm-es/cspm-es/domain"
)

func TestClip(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc", domain.Clip("abc", 3))
	assert.Equal(t, "ab", domain.Clip("abc", 2))
	assert.Equal(t, "", domain.Clip("abc", 0))
	// Characters, not bytes: a cut never splits a character.
	s := strings.Repeat("é", 10) // 2 bytes each
	got := domain.Clip(s, 4)
	assert.Equal(t, "éééé", got)
	assert.True(t, utf8.ValidString(domain.Clip("a"+strings.Repeat("😀", 3000), domain.MaxReason)))
	assert.Equal(t, domain.MaxReason, utf8.RuneCountInString(domain.Clip(strings.Repeat("😀", domain.MaxReason+1), domain.MaxReason)))
}
