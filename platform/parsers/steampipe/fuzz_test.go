package steampipe

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
)

// FuzzParse: whatever the bytes, Parse either rejects them with a
// *ParseError or gives records that keep the package's promises; Detect
// never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	for _, s := range []string{"", "[]", "{}", `{"rows":null}`, "[null]", `[{"akas":"[\"x\"]"}]`, `[{"tags":"{"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Detect(data)
		n := 0
		sum, err := Parse(context.Background(), bytes.NewReader(data), "aws_s3_bucket", func(r cadomain.Record) error {
			n++
			if r.Key == "" || r.Hash == "" {
				t.Fatalf("record %+v", r)
			}
			if len(r.Raw) > MaxRawBytes || len(r.Tags) > MaxTags {
				t.Fatalf("unbounded record")
			}
			return nil
		})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a ParseError: %v", err)
			}
			return
		}
		if sum.Rows != n {
			t.Fatalf("%d rows, %d records", sum.Rows, n)
		}
	})
}
