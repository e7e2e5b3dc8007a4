package prowler

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// fuzzSeeds are the samples and the broken shapes.
func fuzzSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, ".md") {
			continue
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Small inputs keep the fuzzer fast (minimising a 68 KB input
		// takes a minute): whole samples up to 20 KB, and every sample cut.
		if len(raw) <= 20<<10 {
			f.Add(raw)
		}
		f.Add(raw[:min(len(raw)/2, 8<<10)])
	}
	for _, s := range []string{
		"", "[]", "[", "{}", "[null]", "[1]", arr(okOCSF), arr(okNative), arr(okASFF), csvHeader, csvHeader + okCSVRow,
		"[" + okOCSF + ",", `[{"time":1e400}]`, `[{"time_dt":"2024-13-45T99:99:99"}]`, "\ufeff" + csvHeader + `a;"b`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse: whatever the bytes, every format either rejects them with a
// *ParseError or returns observations that keep the package's promises,
// and Detect never panics.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if detected, err := Detect(data); err == nil && !detected.Valid() {
			t.Fatalf("Detect returned %q without error", detected)
		}
		for _, format := range Formats {
			var obs []cloudsecurity.Observation
			sum, err := Parse(t.Context(), bytes.NewReader(data), format, func(o cloudsecurity.Observation) error {
				obs = append(obs, o)
				return nil
			})
			if sum.Observations != len(obs) {
				t.Fatalf("%s: summary counts %d, emitted %d", format, sum.Observations, len(obs))
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: error is not a *ParseError: %v", format, err)
				}
				continue
			}
			if sum.Results.Total() != len(obs) {
				t.Fatalf("%s: results count %d of %d", format, sum.Results.Total(), len(obs))
			}
			for _, o := range obs {
				checkObservation(t, format, o)
			}
		}
	})
}

func checkObservation(t *testing.T, format Format, o cloudsecurity.Observation) {
	t.Helper()
	switch {
	case o.Tool != Tool:
		t.Fatalf("%s: tool %q", format, o.Tool)
	case o.CheckID == "" || o.AccountUID == "" || o.Provider == "":
		t.Fatalf("%s: missing identity %+v", format, o)
	case o.Provider != strings.ToLower(o.Provider):
		t.Fatalf("%s: provider %q not lower case", format, o.Provider)
	case o.Result != cloudsecurity.ResultFail && o.Result != cloudsecurity.ResultPass && o.Result != cloudsecurity.ResultManual:
		t.Fatalf("%s: result %q", format, o.Result)
	case o.ObservedAt.IsZero() || o.ObservedAt.Location() != time.UTC:
		t.Fatalf("%s: time %v", format, o.ObservedAt)
	case len(o.CheckID) > MaxIdentifierBytes || len(o.AccountUID) > MaxIdentifierBytes || len(o.Region) > MaxIdentifierBytes:
		t.Fatalf("%s: identifier over the limit", format)
	}
	if o.Severity != "" {
		if _, ok := cloudsecurity.ParseSeverity(string(o.Severity)); !ok {
			t.Fatalf("%s: severity %q", format, o.Severity)
		}
	}
}
