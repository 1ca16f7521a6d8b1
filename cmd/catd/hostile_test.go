//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunRefusesAConfigThatIsNotAFile: "catd run --config PATH" with PATH
// a named pipe (it used to wait for a writer for ever), a link to
// /dev/zero or a file over 1 MiB fails at once, naming PATH.
func TestRunRefusesAConfigThatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file string
		place      func(path string) error
		says       string
	}{
		{"named pipe", "fifo.yaml", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "is a named pipe (FIFO)"},
		{"link to /dev/zero", "zero.yaml", func(p string) error { return os.Symlink("/dev/zero", p) }, "is a character device"},
		{"2 MiB", "big.yaml", func(p string) error {
			return os.WriteFile(p, append([]byte("#"), bytes.Repeat([]byte("x"), 2<<20)...), 0o644)
		},
			"more than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if err := tc.place(path); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				var out bytes.Buffer
				done <- run(ctx, []string{"run", "--config", path, "--source", "test:", "--state-dir", t.TempDir()}, &out, &out)
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("error %v, want one naming %s and saying %q", err, path, tc.says)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("catd run still starting after 10 s")
			}
		})
	}
}
