//go:build unix

package regfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"catd/internal/regfile"
)

// within fails t if fn does not return within a few seconds: what the
// package promises is that it never waits (on a named pipe).
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked")
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	const limit = 1000
	for _, tc := range []struct {
		name  string
		path  string
		size  int   // of the contents read, if no error
		isErr error // else the error wraps this
		text  string
	}{
		{"empty", file("empty", 0), 0, nil, ""},
		{"small", file("small", 10), 10, nil, ""},
		{"at the limit", file("at", limit), limit, nil, ""},
		{"one byte over", file("over", limit+1), 0, regfile.ErrTooLarge, "more than 1000 bytes"},
		{"link to a file", link("link", filepath.Join(dir, "small")), 10, nil, ""},
		{"missing", filepath.Join(dir, "missing"), 0, fs.ErrNotExist, "missing"},
		{"dangling link", link("dangling", filepath.Join(dir, "gone")), 0, fs.ErrNotExist, "dangling"},
		{"directory", dir, 0, regfile.ErrNotRegular, "is a directory"},
		{"named pipe", fifo, 0, regfile.ErrNotRegular, "is a named pipe (FIFO)"},
		{"link to a named pipe", link("fifolink", fifo), 0, regfile.ErrNotRegular, "is a named pipe (FIFO)"},
		{"link to /dev/zero", link("zero", "/dev/zero"), 0, regfile.ErrNotRegular, "is a character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				data []byte
				err  error
			)
			within(t, func() { data, err = regfile.Read(tc.path, limit) })
			if tc.isErr == nil {
				if err != nil || len(data) != tc.size {
					t.Fatalf("read %d bytes, %v; want %d", len(data), err, tc.size)
				}
				return
			}
			if !errors.Is(err, tc.isErr) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v; want one wrapping %v, naming %s and saying %q", err, tc.isErr, tc.path, tc.text)
			}
		})
	}
}

// TestOpenRefusesANamedPipeWithAWriter: even with a writer on the other
// end (so that opening would not block), a named pipe is not read.
func TestOpenRefusesANamedPipeWithAWriter(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: does not wait for a reader
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	within(t, func() {
		f, _, err := regfile.Open(fifo)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, regfile.ErrNotRegular) {
			t.Errorf("Open(fifo): %v, want ErrNotRegular", err)
		}
	})
}
