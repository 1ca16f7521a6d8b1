//go:build unix

package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"catd/config"
	"catd/internal/regfile"
)

// TestLoadRefusesWhatIsNotAConfigFile: catd run --config PATH, where PATH
// is a named pipe (Load used to wait for a writer for ever), a link to
// /dev/zero, or a file over 1 MiB, fails at once with an error naming
// PATH. A file of exactly 1 MiB loads.
func TestLoadRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	// Valid YAML, padded with a comment line to the size wanted.
	padded := func(name string, size int) string {
		head := "detect:\n  threshold: 0.6\n#"
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(head+strings.Repeat("x", size-len(head))), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		is   error // "" and nil: loads
		says string
	}{
		{"named pipe", fifo, regfile.ErrNotRegular, "is a named pipe (FIFO)"},
		{"link to /dev/zero", zero, regfile.ErrNotRegular, "is a character device"},
		{"2 MiB", padded("big.yaml", 2<<20), regfile.ErrTooLarge, "more than 1048576 bytes"},
		{"1 MiB and a byte", padded("over.yaml", config.MaxFileSize+1), regfile.ErrTooLarge, "more than 1048576 bytes"},
		{"1 MiB", padded("at.yaml", config.MaxFileSize), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var (
				c   config.Config
				err error
			)
			go func() { defer close(done); c, _, err = config.Load(tc.path) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Load(%s) still blocked after 10 s", tc.path)
			}
			if tc.is == nil {
				if err != nil || c.Detect.Threshold != 0.6 {
					t.Fatalf("Load(%s): threshold %v, %v", tc.path, c.Detect.Threshold, err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Load(%s): %v; want an error naming the file and saying %q", tc.path, err, tc.says)
			}
		})
	}
}
