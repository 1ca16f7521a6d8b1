//go:build !linux

package state

import (
	"errors"
	"syscall"
)

// freeSpace does not know the free space here.
func freeSpace(string) (uint64, bool) { return 0, false }

// isNoSpace reports whether err says the file system is full.
func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }
