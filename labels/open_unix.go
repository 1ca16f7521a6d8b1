//go:build unix && !linux

package labels

import (
	"os"
	"syscall"
)

// openNoFollow opens path for reading, failing on a symbolic link
// (O_NOFOLLOW) and not waiting for a writer on a named pipe (O_NONBLOCK,
// which makes no difference to reading a regular file).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
