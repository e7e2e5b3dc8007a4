package kev_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

// FuzzParse: any input either parses into a valid catalogue or is rejected with a *ParseError; never a panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{may22, jun09, aug25, aug25CSV} {
		f.Add(sample(f, name))
	}
	f.Add([]byte(whole))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []kev.Format{kev.FormatJSON, kev.FormatCSV} {
			c, err := kev.Parse(context.Background(), bytes.NewReader(data), format, kev.Options{AllowPartial: true})
			if err != nil {
				var pe *kev.ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: not a *ParseError: %v", format, err)
				}
				continue
			}
			if problems := c.Validate(true); len(problems) > 0 {
				t.Fatalf("%s: accepted an invalid catalogue: %v", format, problems)
			}
		}
	})
}
