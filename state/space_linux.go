package state

import (
	"errors"

	"golang.org/x/sys/unix"
)

// freeSpace returns the bytes an unprivileged process may still write on
// the file system holding dir, and whether statfs could tell.
func freeSpace(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Bsize <= 0 {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// isNoSpace reports whether err says the file system (or the user's
// quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
