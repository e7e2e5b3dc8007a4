package testssl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// FuzzParse: any input parses or is refused, never panics; what parses
// passes the domain's rules.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 256<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(context.Background(), bytes.NewReader(b), func(o cloudsecurity.Observation) error {
			if o.ObservedAt.IsZero() {
				o.ObservedAt = time.Unix(0, 0) // a flat testssl.sh report: the import dates it
			}
			if _, err := cloudsecurity.ResultOf(o); err != nil {
				t.Fatalf("an observation the domain refuses: %v (%+v)", err, o)
			}
			return nil
		})
	})
}
