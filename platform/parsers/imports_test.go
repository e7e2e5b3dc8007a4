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

// bsonModule is the one exception, for platform/parsers/legacy only
// (decision 94): the mongo-driver's bson package, pure Go, the reference
// implementation of MongoDB Extended JSON, which the legacy platform's
// mongoexport files are written in.
const bsonModule = "go.mongodb.org/mongo-driver/v2/"

// bsonUsers are the parsers allowed to import bsonModule.
var bsonUsers = map[string]bool{module + "/platform/parsers/legacy": true}

// TestParsersArePure: the parsers (and their generators) depend on the
// standard library, domain/..., each other and jsonModule only.
func TestParsersArePure(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "./...")
	// bsonModule's packages are allowed where bsonUsers import them; the
	// packages of every other parser are listed alone below.
	checkBSONUsers(t)
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
			path == jsonModule || strings.HasPrefix(path, jsonModule+"/") ||
			strings.HasPrefix(path, bsonModule) && bsonOnlyVia(t, path) {
			continue
		}
		t.Errorf("a parser depends on %s: parsers import only the standard library, domain/... and %s (decision 35)", path, jsonModule)
	}
	require.Greater(t, seen, 10, "go list listed the parsers' dependencies")
}

// checkBSONUsers: only the parsers in bsonUsers import bsonModule directly.
func checkBSONUsers(t *testing.T) {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	out, err := cmd.Output()
	require.NoError(t, err)
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, bsonModule) && !bsonUsers[fields[0]] {
				t.Errorf("%s imports %s: only %v may (decision 94)", fields[0], imp, bsonUsers)
			}
		}
	}
}

// bsonOnlyVia reports whether a bsonModule package is one the bson
// package itself needs (not the driver's network code).
func bsonOnlyVia(t *testing.T, path string) bool {
	t.Helper()
	switch strings.TrimPrefix(path, bsonModule) {
	case "bson", "x/bsonx/bsoncore", "internal/decimal128", "internal/binaryutil", "internal/bsoncoreutil":
		return true
	}
	return false
}
