package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The binaries under test, built once per package run (concurrently, at
// start): cspm and nats-server from the module the project depends on.
//
// cspm is built without the race detector even when the tests run with
// it: the component tests (cmd/cspm) run the same code in process under
// the race detector, while here up to nine processes at a time would each
// pay its 5-10x CPU (the package took 400 s of make test's 15 minutes, and
// 2 s leases lapsed under it). CSPM_E2E_RACE=1 builds it with -race (when
// the tests run with it) to hunt races across processes.
var (
	cspmBinary = &build{name: "cspm", pkg: "github.com/cspm-es/cspm-es/cmd/cspm", race: raceEnabled && os.Getenv("CSPM_E2E_RACE") == "1"}
	natsBinary = &build{name: "nats-server", pkg: "github.com/nats-io/nats-server/v2"}
)

// auditDir is the audit directory (audit key, checkpoint copies) of every
// binary the tests run: one for the run, never the user's config dir.
var auditDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cspm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	auditDir = filepath.Join(dir, "audit")
	cspmBinary.start(dir)
	natsBinary.start(dir)
	code := m.Run()
	cspmBinary.wait()
	natsBinary.wait()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build is one `go build` running in the background.
type build struct {
	name, pkg string
	race      bool

	path string
	done chan struct{}
	out  []byte
	err  error
}

func (b *build) start(dir string) {
	b.path = filepath.Join(dir, b.name)
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		args := []string{"build", "-buildvcs=false", "-o", b.path}
		if b.race {
			args = append(args, "-race")
		}
		b.out, b.err = exec.Command("go", append(args, b.pkg)...).CombinedOutput()
	}()
}

func (b *build) wait() { <-b.done }

// get waits for the build and returns the binary's path.
func (b *build) get(t *testing.T) string {
	t.Helper()
	b.wait()
	if b.err != nil {
		t.Fatalf("go build %s: %v\n%s", b.pkg, b.err, b.out)
	}
	return b.path
}
