package legacy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspm-es/cspm-es/platform/parsers/legacy"
)

// FuzzReadFile: whatever the bytes, every collection's reader returns
// (no panic), and every document met is either kept or a Problem.
func FuzzReadFile(f *testing.F) {
	files, err := filepath.Glob("testdata/seed/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`[{"_id":{"$oid":"650000000000000000000001"},"email":"a@b.c","team_id":"t"}`))
	f.Add([]byte("{\n\"_id\": 1,\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, coll := range legacy.Collections {
			l := legacy.NewLoader(legacy.Options{DefaultTeam: "t"})
			n, _ := l.ReadFile("db", coll, bytesReader(in))
			ds := l.Dataset()
			kept := len(ds.Users) + len(ds.ScanRuns) + len(ds.Findings)
			for _, a := range ds.Accounts {
				kept += len(a.Sources)
			}
			if kept+len(ds.Problems) < n {
				t.Fatalf("%s: %d documents met, %d kept, %d problems", coll, n, kept, len(ds.Problems))
			}
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
