package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text limits, in characters (Unicode code points), shared by every module.
// They keep every event far below the event store's size limit (a field
// can take at most 4 bytes per character); docs/http-api.md, "Limits",
// lists them per field.
const (
	MaxShortText   = 256    // one-line labels: account ids, check ids, tools, regions, names
	MaxReference   = 2048   // resource ids (ARNs can be long), targets (URLs)
	MaxTitle       = 1024   // finding titles
	MaxReason      = 4096   // why a scan failed, a finding was resolved or suppressed, a key revoked
	MaxDescription = 32_768 // multi-line descriptions
)

// Text records a problem with a one-line text field unless it is valid
// UTF-8 of at most max characters without control characters. An empty
// value passes: whether a field is required is checked apart.
func (v *Validator) Text(field, s string, max int) {
	v.text(field, s, max, unicode.IsControl, "must not contain control characters")
}

// MultilineText is Text for text that may hold line breaks and tabs.
func (v *Validator) MultilineText(field, s string, max int) {
	v.text(field, s, max, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}, "must not contain control characters other than line breaks and tabs")
}

func (v *Validator) text(field, s string, max int, forbidden func(rune) bool, forbiddenMsg string) {
	switch {
	case s == "":
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case len(s) > max && utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters (got %d)", max, utf8.RuneCountInString(s))
	case strings.ContainsFunc(s, forbidden):
		v.Add(field, "%s", forbiddenMsg)
	}
}

// Clip shortens s to at most max characters, cutting between characters
// (never inside one's UTF-8 bytes), for texts the product writes itself
// from a cause it does not control, such as why a report was rejected.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}
