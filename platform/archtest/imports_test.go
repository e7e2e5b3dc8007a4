package archtest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/cspm-es/cspm-es"

// forbiddenInDomain are the infrastructure modules the domain must never
// reach, directly or through another package.
var forbiddenInDomain = []string{
	"go.mongodb.org",
	"github.com/labstack",
	"github.com/ThreeDotsLabs",
	"go.uber.org/fx",
	"github.com/nats-io",
	"modernc.org",
}

type pkg struct {
	path     string
	standard bool
}

// deps lists the (non-test) dependencies of the packages matching pattern,
// the packages themselves included.
func deps(t *testing.T, pattern string) []pkg {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pattern)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list -deps %s: %s", pattern, stderr.String())
	var pkgs []pkg
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		path, std, ok := strings.Cut(line, " ")
		require.True(t, ok, "unexpected go list line %q", line)
		pkgs = append(pkgs, pkg{path: path, standard: std == "true"})
	}
	require.NotEmpty(t, pkgs, "go list matched nothing for %s", pattern)
	return pkgs
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	gomod := strings.TrimSpace(string(out))
	require.NotEmpty(t, gomod, "not inside a module")
	return filepath.Dir(gomod)
}

// TestDomainHasNoInfrastructure is the check `make lint` runs: nothing under
// domain/ may depend on a database driver, the HTTP framework, the bus or the
// DI container.
func TestDomainHasNoInfrastructure(t *testing.T) {
	for _, v := range forbidden(deps(t, module+"/domain/...")) {
		t.Errorf("domain %s; move the I/O out of domain/", v)
	}
}

func forbidden(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, bad := range forbiddenInDomain {
			if p.path == bad || strings.HasPrefix(p.path, bad+"/") {
				out = append(out, "depends on "+p.path+" (forbidden: "+bad+")")
			}
		}
	}
	return out
}

// The checker itself: a real dependency graph that does contain the
// forbidden modules must be reported.
func TestForbidden_CatchesInfrastructure(t *testing.T) {
	got := forbidden(deps(t, "go.uber.org/fx"))
	require.NotEmpty(t, got)
	require.Contains(t, strings.Join(got, "\n"), "go.uber.org/fx (forbidden: go.uber.org/fx)")
	require.Empty(t, forbidden([]pkg{{path: "go.uber.org/fxx"}, {path: "fmt", standard: true}}))
}

// TestDomainImportsOnlyStdlibAndDomain is docs/architecture.md §2's rule in full: domain
// code imports only domain/... and the standard library.
func TestDomainImportsOnlyStdlibAndDomain(t *testing.T) {
	for _, p := range deps(t, module+"/domain/...") {
		if p.standard || p.path == module+"/domain" || strings.HasPrefix(p.path, module+"/domain/") {
			continue
		}
		t.Errorf("domain depends on %s: domain/ may import only domain/... and the standard library", p.path)
	}
}
