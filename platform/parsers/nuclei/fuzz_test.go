package nuclei

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// FuzzParse: any input parses or is refused, never panics; what parses
// passes the domain's rules.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{FormatJSONL, FormatJSON} {
			_, _ = Parse(context.Background(), bytesReader(b), format, func(o cloudsecurity.Observation) error {
				if _, err := cloudsecurity.ResultOf(o); err != nil {
					t.Fatalf("an observation the domain refuses: %v (%+v)", err, o)
				}
				return nil
			})
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
