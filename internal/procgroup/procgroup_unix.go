//go:build unix

// Package procgroup runs child commands (camera exec: sources, the
// on_detect hook) in process groups of their own, so that stopping one
// also stops whatever it started: a shell's pipeline, ffmpeg's helpers.
// Without process groups (non-Unix systems) only the command itself is
// stopped.
package procgroup

import (
	"os/exec"
	"syscall"
)

// Set makes cmd, before it starts, the leader of a new process group.
func Set(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// Terminate sends SIGTERM to the process group of a started cmd.
func Terminate(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
}

// Kill sends SIGKILL to the process group of a started cmd. It is also
// used after the leader has been reaped, to sweep up members that outlived
// it: a process group ID is not handed out again while the group has
// members, so this cannot hit an unrelated group unless the ID was freed
// and reused by a new group leader in between (ESRCH, the usual result,
// is for the caller to ignore).
func Kill(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
