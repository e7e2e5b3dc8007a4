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

// layerRules are docs/architecture.md §2's rules for the packages of the
// command and query sides: what of this module each may import (a path
// listed here, or below it when it ends in "/"). The roots (commands,
// queries) are each side's shared kit; a module's package (commands/<module>,
// queries/<module>) imports its side's kit and never another module's
// package of that side, nor api, projections or cmd.
var layerRules = map[string][]string{
	"commands": {"commands", "domain", "domain/", "eventstore"},
	"queries":  {"queries", "domain", "domain/", "eventstore", "platform/readmodel"},
}

// testSupport are packages that exist for tests (fixtures shared by a
// side's test packages); they may import anything.
var testSupport = map[string]bool{
	"commands/commandstest": true,
	"queries/queriestest":   true,
}

type importList struct {
	path    string   // relative to the module
	imports []string // of this module, relative to it
}

// moduleImports lists the packages matching pattern with their direct
// (non-test) imports of this module.
func moduleImports(t *testing.T, pattern string) []importList {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, pattern)
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list %s: %s", pattern, stderr.String())
	var lists []importList
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		require.NotEmpty(t, fields, "unexpected go list line %q", line)
		l := importList{path: strings.TrimPrefix(fields[0], module+"/")}
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				l.imports = append(l.imports, rel)
			}
		}
		lists = append(lists, l)
	}
	return lists
}

// layerViolations names every import of pkgs (packages of layer) its rules
// do not allow.
func layerViolations(layer string, pkgs []importList) []string {
	var out []string
	for _, p := range pkgs {
		if testSupport[p.path] {
			continue
		}
		for _, imp := range p.imports {
			if !allowed(layerRules[layer], imp) {
				out = append(out, p.path+" imports "+imp)
			}
		}
	}
	return out
}

func allowed(rules []string, imp string) bool {
	for _, r := range rules {
		if imp == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(imp, r)) {
			return true
		}
	}
	return false
}

// TestForbiddenImportsOfCommandsAndQueries is docs/architecture.md §2's
// rule for commands/ and queries/: each module's package imports its
// side's kit, domain/... and the ports, never another module's package of
// its side, the other side, api, projections or cmd.
func TestForbiddenImportsOfCommandsAndQueries(t *testing.T) {
	for layer := range layerRules {
		pkgs := moduleImports(t, module+"/"+layer+"/...")
		require.Greater(t, len(pkgs), 1, "%s has module packages", layer)
		for _, v := range layerViolations(layer, pkgs) {
			t.Errorf("%s: see docs/architecture.md §2", v)
		}
	}
}

// The checker itself: imports across modules, sides and layers are
// reported; the kit, the domain and the ports are not.
func TestForbidden_CatchesCrossModuleImports(t *testing.T) {
	got := layerViolations("commands", []importList{
		{path: "commands/cloudsecurity", imports: []string{"commands", "domain/cloudsecurity", "eventstore",
			"commands/orchestration", "queries", "api", "projections/platform", "eventstore/sqlite"}},
		{path: "commands/commandstest", imports: []string{"commands/orchestration", "eventstore/sqlite"}},
	})
	require.Equal(t, []string{
		"commands/cloudsecurity imports commands/orchestration",
		"commands/cloudsecurity imports queries",
		"commands/cloudsecurity imports api",
		"commands/cloudsecurity imports projections/platform",
		"commands/cloudsecurity imports eventstore/sqlite",
	}, got)
	got = layerViolations("queries", []importList{
		{path: "queries/platform", imports: []string{"queries", "platform/readmodel", "eventstore", "domain",
			"queries/orchestration", "commands", "platform/readmodel/sqlitestore"}},
	})
	require.Equal(t, []string{
		"queries/platform imports queries/orchestration",
		"queries/platform imports commands",
		"queries/platform imports platform/readmodel/sqlitestore",
	}, got)
}
