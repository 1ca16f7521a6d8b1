//go:build unix

package daemon

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// returnsWithin fails t if fn has not returned after a few seconds: the
// cases that use it used to block for ever.
func returnsWithin(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still blocked after 10 s", what)
	}
}

// allocated returns the bytes fn allocates (runtime.MemStats.TotalAlloc).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileModelFiles: a model path (run --model, the model: key, live)
// that is a named pipe, a link to /dev/zero or a file whose header length
// says 95 MB is refused at once, naming the file, at the cost of a few
// bytes: reading it used to block for ever, or to read the whole file and
// then the header into memory.
func TestHostileModelFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.safetensors")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge-header.safetensors")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	const headerLen = 95_000_000
	if _, err := f.Write(binary.LittleEndian.AppendUint64(nil, headerLen)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 + headerLen); err != nil { // sparse: no disk space
		t.Fatal(err)
	}
	f.Close()

	for _, tc := range []struct {
		name, path, want string
	}{
		{"named pipe", fifo, "is a named pipe (FIFO)"},
		{"link to /dev/zero", zero, "is a character device"},
		{"95 MB header", huge, "header length 95000000 exceeds the limit of 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &service{}
			var (
				err error
				n   uint64
			)
			returnsWithin(t, "loading "+tc.path, func() {
				n = allocated(func() { _, err = s.loadModel(tc.path) })
			})
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
			if n > 1<<20 {
				t.Errorf("refusing it allocated %d bytes, want under 1 MiB", n)
			}
			t.Logf("%d bytes allocated: %v", n, err)
		})
	}
}
