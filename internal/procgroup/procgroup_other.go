//go:build !unix

// Package procgroup runs child commands in process groups of their own;
// without process groups (this system) only the command itself is
// stopped, with Kill.
package procgroup

import "os/exec"

// Set does nothing here.
func Set(*exec.Cmd) {}

// Terminate kills cmd.
func Terminate(cmd *exec.Cmd) error { return cmd.Process.Kill() }

// Kill kills cmd.
func Kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
