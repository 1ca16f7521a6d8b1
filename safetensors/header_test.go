package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hugeHeaderFile writes a sparse file of headerLen+8 bytes whose length
// prefix says headerLen: a header-only file, as a hostile or broken model
// file would be, that costs no disk space.
func hugeHeaderFile(t *testing.T, headerLen uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "huge-header.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(binary.LittleEndian.AppendUint64(nil, headerLen)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(8 + headerLen)); err != nil {
		t.Fatal(err)
	}
	return path
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

// TestHugeHeaderIsRefusedCheaply: a file whose header length says 95 MB
// (the reference implementation's limit is 100 MB) is refused by every
// reader from its length prefix, before any of the header is read: with a
// clear error, in far less than a second, allocating well under a MiB.
// Reading and decoding such a header used to take 700 MB and 10 s.
func TestHugeHeaderIsRefusedCheaply(t *testing.T) {
	const headerLen = 95_000_000
	path := hugeHeaderFile(t, headerLen)
	readers := []struct {
		name string
		read func() error
	}{
		{"ReadFile", func() error { _, err := ReadFile(path, 256<<20); return err }},
		{"ReadFile without a limit", func() error { _, err := ReadFile(path, 0); return err }},
		{"Read", func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = Read(f, 256<<20)
			return err
		}},
		{"ReadIndex", func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = ReadIndex(f, 8+headerLen)
			return err
		}},
		{"Parse", func() error {
			_, err := Parse(binary.LittleEndian.AppendUint64(nil, headerLen))
			return err
		}},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			var err error
			start := time.Now()
			n := allocated(func() { err = r.read() })
			took := time.Since(start)
			t.Logf("%v, %d bytes allocated: %v", took, n, err)
			want := "header length 95000000 exceeds the limit of 4194304 bytes (4 MiB"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one saying %q", err, want)
			}
			if n > 1<<20 {
				t.Errorf("refusing the header allocated %d bytes, want under 1 MiB", n)
			}
			if took > time.Second {
				t.Errorf("refusing the header took %v", took)
			}
		})
	}
}

// TestHeaderAtTheLimit: a header of exactly MaxHeaderSize bytes is
// decoded, and one byte more is refused.
func TestHeaderAtTheLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"at the limit", MaxHeaderSize, ""},
		{"one byte over", MaxHeaderSize + 1, "exceeds the limit of 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := "{}" + strings.Repeat(" ", tc.n-2) // padding is allowed
			_, err := Parse(withLen(uint64(len(hdr)), hdr))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("a %d-byte header: %v", tc.n, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("a %d-byte header: error %v, want %q", tc.n, err, tc.want)
			}
		})
	}
}
