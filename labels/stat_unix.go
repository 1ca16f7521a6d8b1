//go:build unix

package labels

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow opens path for reading, failing on a symbolic link
// (O_NOFOLLOW) and not waiting for a writer on a named pipe (O_NONBLOCK,
// which makes no difference to reading a regular file).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// isLinkErr reports whether err is openNoFollow's error for a symbolic link.
func isLinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }

// hardLinks returns the number of names the file has.
func hardLinks(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
