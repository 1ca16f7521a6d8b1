package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"catd/internal/regfile"
)

// ErrLocked is wrapped by LockDir's error when another process holds the
// state directory.
var ErrLocked = errors.New("state directory in use")

// lockName is the file in the state directory that LockDir locks.
const lockName = "lock"

// DirLock is the exclusive lock on a state directory that one catd holds
// for as long as it runs, so that a second catd does not take the same
// labels, train the same model and interleave checkpoint generations with
// the first. Make one with LockDir.
type DirLock struct {
	f   *os.File // nil where there is no flock
	dir string
}

// LockDir takes the exclusive lock on the state directory dir, which must
// exist: flock(2) with LOCK_EX|LOCK_NB on the file "lock" in it (created
// with mode 0640 if missing, and never removed: removing a lock file races
// with the next taker). It then writes this process's PID into the file.
// The lock goes with the open file: it is released by Unlock, or by the
// kernel when the process ends however it ends, so a crash leaves nothing
// to clean up.
//
// If another open file holds the lock (another process, or another
// LockDir in this one), LockDir fails at once with an error wrapping
// ErrLocked that names dir and, if the holder wrote it, the holder's PID.
// On systems without flock LockDir takes no lock and returns a DirLock
// whose Unlock does nothing.
func LockDir(dir string) (*DirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("state: lock the state directory: %w", err)
	}
	if !haveFlock {
		f.Close()
		return &DirLock{dir: dir}, nil
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	if !ok {
		f.Close()
		holder := "a process that did not say its PID"
		if pid, ok := lockHolder(path); ok {
			holder = "pid " + strconv.Itoa(pid)
		}
		return nil, fmt.Errorf("state: %w: %s is locked by another catd (%s); only one catd may use a state directory (stop it, or give this one another --state-dir)",
			ErrLocked, dir, holder)
	}
	// The PID is for the message above; failing to write it is no reason
	// to give the lock up.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f, dir: dir}, nil
}

// lockHolder returns the PID written in the lock file at path, if any.
func lockHolder(path string) (int, bool) {
	b, err := regfile.Read(path, 64)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// Dir returns the locked directory.
func (l *DirLock) Dir() string { return l.dir }

// Unlock releases the lock. The lock file stays. Unlock may be called more
// than once; only the first call does anything.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing the file releases the flock; the PID in it is left, as the
	// next holder overwrites it.
	if err := f.Close(); err != nil {
		return fmt.Errorf("state: unlock %s: %w", l.dir, err)
	}
	return nil
}
