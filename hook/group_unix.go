//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes cmd the leader of a new process group, so that
// signalling the group reaches whatever it starts (a shell's children and
// their children).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminateGroup sends SIGTERM to cmd's process group.
func terminateGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
}

// killGroup sends SIGKILL to cmd's process group. It is also used after the
// leader has been reaped, to sweep up members that outlived it: a process
// group ID is not handed out again while the group has members, so this
// cannot hit an unrelated group unless the ID was freed and reused by a new
// group leader in between (ESRCH, the usual result, is ignored).
func killGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
