//go:build unix

package labels

import (
	"errors"
	"os"
	"syscall"
)

// isLinkErr reports whether err is the error of opening a path through a
// symbolic link without following it (ELOOP).
func isLinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }

// hardLinks returns the number of names the file has.
func hardLinks(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
