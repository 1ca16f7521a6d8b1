//go:build unix

package regfile

import "syscall"

// openFlags makes opening a named pipe return at once instead of waiting
// for a writer; it makes no difference to reading a regular file.
const openFlags = syscall.O_NONBLOCK
