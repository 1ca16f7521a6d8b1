//go:build unix

package state

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// haveFlock says that LockDir locks.
const haveFlock = true

// tryLock takes flock(LOCK_EX|LOCK_NB) on f; false means another open
// file holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return false, err
	}
}
