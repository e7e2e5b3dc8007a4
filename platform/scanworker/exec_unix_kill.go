//go:build unix

package scanworker

import (
	"os/exec"
	"syscall"
)

// killGroup kills the tool's process group with SIGKILL.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
