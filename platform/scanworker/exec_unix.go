//go:build unix && !linux

package scanworker

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the tool in a process group of its own, so that
// killing it kills whatever it started too.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
