//go:build unix

package fswatch

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestNotRegularFiles: a named pipe or a link to /dev/zero in the file's
// place is not read (a named pipe would block Run for ever, /dev/zero
// would fill the memory); the error is logged, Run goes on, and the next
// regular file is delivered.
func TestNotRegularFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		place func(t *testing.T, path string)
		says  string
	}{
		{"named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO): not a regular file"},
		{"link to /dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "is a character device: not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := plainFile(t, dir)
			h := start(t, dir, path, Options{}, nil)
			remove(t, path)
			tc.place(t, path)
			h.waitLog(`"level":"error"`, `"path":"`+path+`"`, tc.says)
			h.none()
			remove(t, path)
			h.write(filepath.Base(path), "v: 2\n")
			h.expect("v: 2\n", ReasonChanged+"|"+ReasonCreated+"|"+ReasonSymlink)
		})
	}
}
