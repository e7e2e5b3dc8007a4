package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The smoke layer trusts the tool's exit status: a failing go test must
// fail make test.
func TestRunCommandExitStatus(t *testing.T) {
	sigs := make(chan os.Signal)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{`test "$URI" = mongodb://x/`, 0},
		{`exit 3`, 3},
		{`kill -KILL $$`, 1},
	} {
		code, err := runCommand([]string{"sh", "-c", tc.script}, "URI=mongodb://x/", sigs)
		if code != tc.want {
			t.Errorf("%s: exit code %d (err %v), want %d", tc.script, code, err, tc.want)
		}
	}
	if code, err := runCommand([]string{filepath.Join(t.TempDir(), "missing")}, "", sigs); code == 0 || err == nil {
		t.Errorf("a missing command: exit code %d, err %v; want a failure", code, err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "[::1]:27017", "127.0.0.2:1"} {
		if err := loopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:0", ":27017", "localhost:0", "10.0.0.1:27017", "127.0.0.1"} {
		if err := loopback(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestDataDir(t *testing.T) {
	dir, cleanup, err := dataDir("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s not removed: %v", dir, err)
	}

	named := filepath.Join(t.TempDir(), "a", "b")
	dir, cleanup, err = dataDir(named)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if dir != named {
		t.Errorf("dir %s, want %s", dir, named)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a named directory is kept: %v", err)
	}
}
