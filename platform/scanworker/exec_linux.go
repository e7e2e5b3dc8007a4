//go:build linux

package scanworker

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the tool in a process group of its own, so that
// killing it kills whatever it started too, and has the kernel kill it if
// the worker dies (SIGKILL leaves the worker no chance to).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
