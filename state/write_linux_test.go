//go:build linux

package state

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFileAtomicFailsMidway makes the data write itself fail, with a
// file size limit (RLIMIT_FSIZE) below the new file's size, as a full SD
// card would: the old file must survive, the temporary file must go and the
// meter must count only what reached the disk.
func TestWriteFileAtomicFailsMidway(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint")
	old := []byte("the old checkpoint")
	if err := WriteFileAtomic(path, old, 0o640, nil); err != nil {
		t.Fatal(err)
	}

	signal.Ignore(syscall.SIGXFSZ) // past the limit, write fails with EFBIG
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
	var m Meter
	err := WriteFileAtomic(path, make([]byte, 1<<20), 0o640, &m)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal("restoring RLIMIT_FSIZE:", err)
	}

	if err == nil || !strings.Contains(err.Error(), "file too large") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want a write failure naming %s", err, path)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, old) {
		t.Errorf("old file changed: %q, %v", got, err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only the old file", names)
	}
	if got := m.Total(); got != 64<<10 {
		t.Errorf("meter %d, want the %d bytes written before the failure", got, 64<<10)
	}
}

// TestSaveOnAFullTmpfs is TestSaveOnAFullDisk on a real full file system:
// a 3 MiB tmpfs holds two 1.2 MB generations but not a third beside them.
// Both ways of noticing are tried: statfs before the write, and ENOSPC
// from it. It needs root (or CAP_SYS_ADMIN) to mount, and is skipped
// otherwise.
func TestSaveOnAFullTmpfs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		statfs bool
	}{
		{"statfs", true},
		{"ENOSPC", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=3m"); err != nil {
				t.Skipf("cannot mount a tmpfs here: %v", err)
			}
			t.Cleanup(func() {
				if err := syscall.Unmount(dir, 0); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
				}
			})
			c, err := OpenCheckpoints(dir, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.statfs {
				c.free = func(string) (uint64, bool) { return 0, false }
			}
			for i := range 4 {
				data := bytes.Repeat([]byte{byte(i)}, 1_200_000)
				if _, err := c.Save(data); err != nil {
					t.Fatalf("save %d: %v", i+1, err)
				}
			}
			var want []string
			for _, seq := range []uint64{3, 4} {
				want = append(want, checkpointName(seq))
			}
			if got := dirNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("directory holds %q, want %q", got, want)
			}
		})
	}
}
