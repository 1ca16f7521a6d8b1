//go:build linux

package safetensors

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFileFailsMidway makes the data write itself fail, with a file
// size limit (RLIMIT_FSIZE) smaller than the new file, and checks that the
// old file survives and the temporary file is removed.
func TestWriteFileFailsMidway(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, nil, []Tensor{FromInt8("old", []int{1}, []int8{1})}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	big := FromFloat32("w", []int{1 << 18}, make([]float32, 1<<18)) // 1 MiB

	// Past the limit, write fails with EFBIG instead of the signal
	// killing the process.
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip("getrlimit:", err)
	}
	small := lim
	small.Cur = 64 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Skip("setrlimit:", err)
	}
	err = WriteFile(path, nil, []Tensor{big})
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal("restoring RLIMIT_FSIZE:", err)
	}

	if err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("error %v, want a write failure", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(after, before) {
		t.Errorf("old file changed: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only the old file", names)
	}
}
