//go:build unix

package state

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLockDir: a second LockDir on a held directory fails at once, naming
// the directory and the holder's PID (flock locks an open file, so two in
// one process conflict as two processes would); once the holder unlocks, a
// new one takes it. Other directories are independent.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  string
		want string // "" if the lock is taken
	}{
		{"the same directory", dir, dir + " is locked by another catd (pid " + strconv.Itoa(os.Getpid()) + ")"},
		{"the same directory, another spelling", dir + "/.", "is locked by another catd"},
		{"another directory", t.TempDir(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LockDir(tc.dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				l.Unlock()
				return
			}
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("second LockDir: %v; want ErrLocked saying %q", err, tc.want)
			}
		})
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := first.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	again, err := LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir after Unlock: %v", err)
	}
	defer again.Unlock()
	if b, err := os.ReadFile(filepath.Join(dir, "lock")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, %v; want this PID", b, err)
	}
}

// TestLockDirWithoutAPID: a holder that wrote no PID (or garbage) is
// still refused, with a message that says the PID is unknown.
func TestLockDirWithoutAPID(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock()
	if err := os.WriteFile(filepath.Join(dir, "lock"), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "a process that did not say its PID") {
		t.Fatalf("LockDir: %v", err)
	}
}
