//go:build !unix

package hook

import "os/exec"

// Without process groups only the command itself is stopped, with Kill.

func setProcessGroup(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
