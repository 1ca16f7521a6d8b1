package state

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  []byte // nil: no file at path before
		data []byte
		perm os.FileMode
	}{
		{"new file", nil, []byte("hello"), 0o640},
		{"replace", []byte("the old contents, longer"), []byte("new"), 0o640},
		{"empty", []byte("old"), nil, 0o640},
		{"private", nil, []byte("secret"), 0o600},
		{"one MiB", nil, bytes.Repeat([]byte{0xa5}, 1<<20), 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "file.bin")
			if tc.old != nil {
				mustWrite(t, path, tc.old)
			}
			var m Meter
			m.Add(7)
			if err := WriteFileAtomic(path, tc.data, tc.perm, &m); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Errorf("file holds %d bytes (%v), want the %d written", len(got), err, len(tc.data))
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode() != tc.perm {
				t.Errorf("mode %v (%v), want %v", fi.Mode(), err, tc.perm)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("directory holds %q, want only file.bin", names)
			}
			if got, want := m.Total(), int64(7+len(tc.data)); got != want {
				t.Errorf("meter %d, want %d", got, want)
			}
		})
	}
}

func TestWriteFileAtomicNilMeter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteFileAtomic(path, []byte("x"), 0o640, nil); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileAtomicFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) (path string) // the failing path
	}{
		{"parent is a file", func(t *testing.T, dir string) string {
			mustWrite(t, filepath.Join(dir, "file"), []byte("not a directory"))
			return filepath.Join(dir, "file", "x")
		}},
		{"parent missing", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "missing", "x")
		}},
		{"path is a directory", func(t *testing.T, dir string) string {
			// Fails at the rename, after writing and syncing the
			// temporary file, which must then be removed.
			p := filepath.Join(dir, "sub")
			if err := os.Mkdir(p, 0o750); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(p, "inside"), []byte("kept"))
			return p
		}},
		{"not a file name", func(t *testing.T, dir string) string {
			return dir + string(filepath.Separator)
		}},
		{"read-only directory", func(t *testing.T, dir string) string {
			if os.Geteuid() == 0 {
				t.Skip("root writes into read-only directories")
			}
			p := filepath.Join(dir, "ro")
			if err := os.Mkdir(p, 0o750); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(p, "x"), []byte("old"))
			if err := os.Chmod(p, 0o550); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(p, 0o750) })
			return filepath.Join(p, "x")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			before := snapshotTree(t, dir)
			var m Meter
			err := WriteFileAtomic(path, []byte("new contents"), 0o640, &m)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if after := snapshotTree(t, dir); after != before {
				t.Errorf("tree changed:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

// snapshotTree describes every file under dir with its contents.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p)
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(": " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMeterConcurrent(t *testing.T) {
	var m Meter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Add(3)
			}
		})
	}
	wg.Wait()
	if got := m.Total(); got != 8*1000*3 {
		t.Errorf("Total %d, want %d", got, 8*1000*3)
	}
}

// TestWriteAtomic streams a file in many small writes; a write that fails
// leaves the old file and no temporary file behind.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stream.bin")
	mustWrite(t, path, []byte("old"))
	var m Meter
	want := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes in 16-byte writes
	if err := WriteAtomic(path, 0o640, &m, func(w io.Writer) error {
		for i := 0; i < len(want); i += 16 {
			if _, err := w.Write(want[i : i+16]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d streamed", len(got), err, len(want))
	}
	if m.Total() != int64(len(want)) {
		t.Errorf("meter counted %d bytes, want %d", m.Total(), len(want))
	}
	boom := errors.New("boom")
	err := WriteAtomic(path, 0o640, &m, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("a failing write: %v, want the write's error naming the path", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Error("a failed stream replaced the file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after a failed stream, want 1", len(ents))
	}
}
