// Package faulttest gives tests a real full disk: a small tmpfs mounted for
// the test. Mounting needs root: as root, WithTmpfs mounts in place;
// otherwise it runs the test again in a new user and mount namespace
// (unshare -rm, from util-linux), where the test is root of its own mounts,
// and the test's outcome is the child's. Nothing is skipped: a machine that
// can do neither fails the test, saying why.
package faulttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// childEnv marks the re-run of a test inside its own namespaces.
const childEnv = "CSPM_FAULTTEST_CHILD"

// WithTmpfs runs f with a directory on a tmpfs of size bytes, unmounted
// when the test ends. Call it from a top-level test, before any other work:
// without root the whole test runs again in a child process.
func WithTmpfs(t *testing.T, size int64, f func(t *testing.T, dir string)) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv(childEnv) == "" {
		rerunInNamespace(t)
		return
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("faulttest: mount a tmpfs on %s: %v: %s (this test needs root, or unprivileged user namespaces for unshare -rm)", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("faulttest: umount %s: %v: %s", dir, err, out)
		}
	})
	f(t, dir)
}

// rerunInNamespace runs this test alone again under unshare -rm; the test
// fails if the child does.
func rerunInNamespace(t *testing.T) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("faulttest: not root and no unshare(1) to get a mount namespace: %v", err)
	}
	cmd := exec.Command(unshare, "-r", "-m", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("not root: ran again in a new user and mount namespace (unshare -rm):\n%s", out.String())
	if err != nil {
		t.Fatalf("faulttest: the test failed in its namespace: %v", err)
	}
}
