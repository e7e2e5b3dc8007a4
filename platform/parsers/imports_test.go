package parsers

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/cspm-es/cspm-es"

// TestParsersArePure: the parsers (and their generators) depend on the
// standard library, domain/... and each other only.
func TestParsersArePure(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	seen := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		path, std, ok := strings.Cut(line, " ")
		require.True(t, ok, "go list line %q", line)
		seen++
		if std == "true" ||
			path == module+"/domain" || strings.HasPrefix(path, module+"/domain/") ||
			path == module+"/platform/parsers" || strings.HasPrefix(path, module+"/platform/parsers/") {
			continue
		}
		t.Errorf("a parser depends on %s: parsers import only the standard library and domain/...", path)
	}
	require.Greater(t, seen, 10, "go list listed the parsers' dependencies")
}
