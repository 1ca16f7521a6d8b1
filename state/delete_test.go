package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSnapshotsDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSnapshots(dir, 10, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := snapNames(3)
	for i, n := range names {
		if _, err := s.Save(n, make([]byte, 10*(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(names[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n, b := s.Stats(); n != 2 || b != 40 {
		t.Errorf("after Delete, Stats = %d files, %d bytes; want 2, 40", n, b)
	}
	if _, err := os.Stat(filepath.Join(dir, names[1])); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the deleted file is still there: %v", err)
	}
	for _, tc := range []struct {
		name, file string
		notExist   bool
	}{
		{"twice", names[1], true},
		{"a path", "../" + names[0], false},
		{"not a snapshot name", "state.lock", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Delete(tc.file)
			if err == nil || errors.Is(err, fs.ErrNotExist) != tc.notExist {
				t.Errorf("Delete(%q) = %v, want an error (not exist: %v)", tc.file, err, tc.notExist)
			}
		})
	}
	if n, _ := s.Stats(); n != 2 {
		t.Errorf("refused deletes changed the count to %d", n)
	}
	// A file moved away is forgotten too.
	if err := os.Rename(filepath.Join(dir, names[0]), filepath.Join(t.TempDir(), "x.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(names[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete of a file moved away: %v", err)
	}
	if n, b := s.Stats(); n != 1 || b != 30 {
		t.Errorf("after a file moved away, Stats = %d files, %d bytes; want 1, 30", n, b)
	}
}
