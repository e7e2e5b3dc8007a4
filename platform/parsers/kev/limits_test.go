package kev_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

func TestLimits_FieldTooLarge(t *testing.T) {
	feed := strings.Replace(whole, `"notes":"n"`, `"notes":"`+strings.Repeat("x", kev.MaxFieldBytes+1)+`"`, 1)
	_, err := parse(t, []byte(feed), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrTooLarge)
}

func TestLimits_FeedTooLarge(t *testing.T) {
	big := whole + strings.Repeat(" ", kev.MaxFeedBytes)
	_, err := parse(t, []byte(big), kev.FormatJSON, kev.Options{})
	require.ErrorIs(t, err, kev.ErrTooLarge)
}
