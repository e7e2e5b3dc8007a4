package parsers

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/cspm-es/cspm-es"

// jsonModule is the one module outside the standard library a parser may
// use (decision 35): the JSON decoder that became encoding/json/v2, pure
// Go, itself depending on the standard library only.
const jsonModule = "github.com/go-json-experiment/json"

// TestParsersArePure: the parsers (and their generators) depend on the
// standard library, domain/..., each other and jsonModule only.
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
			path == module+"/platform/parsers" || strings.HasPrefix(path, module+"/platform/parsers/") ||
			path == jsonModule || strings.HasPrefix(path, jsonModule+"/") {
			continue
		}
		t.Errorf("a parser depends on %s: parsers import only the standard library, domain/... and %s (decision 35)", path, jsonModule)
	}
	require.Greater(t, seen, 10, "go list listed the parsers' dependencies")
}
