package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestSaveOnAFullDisk: on a nearly full disk the new generation used to
// be written before the old ones were deleted, so every checkpoint failed
// for good. Now a write that fails with ENOSPC, or statfs saying the file
// will not fit, deletes the generations but the newest good one and tries
// once more; other errors are not retried and delete nothing.
func TestSaveOnAFullDisk(t *testing.T) {
	enospc := func(path string) error {
		return fmt.Errorf("state: write %s: %w", path, &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC})
	}
	for _, tc := range []struct {
		name     string
		fails    int // writes that fail before they succeed
		failWith func(string) error
		free     uint64   // statfs's answer; 0: unknown
		badNewer bool     // after a restart, Load refuses generation 3 and resumes 2
		wantErr  string   // "" if the Save succeeds
		want     []string // the generations left, by number
		writes   int      // calls of the writer
	}{
		{"room after deleting", 1, enospc, 0, false, "", []string{"3", "4"}, 2},
		{"still no room", 2, enospc, 0, false, "no space left on device", []string{"3"}, 2},
		{"statfs says it will not fit", 0, nil, 1000, false, "", []string{"3", "4"}, 1},
		{"statfs says it fits", 0, nil, 1 << 30, false, "", []string{"2", "3", "4"}, 1},
		{"the good one is kept, not a newer bad one", 1, enospc, 0, true, "", []string{"2", "4"}, 2},
		{"another error deletes nothing", 1, func(p string) error {
			return fmt.Errorf("state: write %s: %w", p, &fs.PathError{Op: "write", Path: p, Err: syscall.EIO})
		}, 0, false, "input/output error", []string{"1", "2", "3"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := OpenCheckpoints(dir, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, err := c.Save(fmt.Appendf(nil, "generation %d", i+1)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.badNewer {
				// A restart: generation 3 turns out bad, 2 is resumed.
				if c, err = OpenCheckpoints(dir, 3, nil); err != nil {
					t.Fatal(err)
				}
				p, _, err := c.Load(func(_ string, data []byte) error {
					if string(data) == "generation 3" {
						return errors.New("bad")
					}
					return nil
				})
				if err != nil || filepath.Base(p) != checkpointName(2) {
					t.Fatalf("Load: %s, %v", p, err)
				}
			}
			writes := 0
			c.write = func(path string, data []byte, perm os.FileMode, m *Meter) (bool, error) {
				writes++
				if writes <= tc.fails {
					return false, tc.failWith(path)
				}
				return writeFileAtomic(path, data, perm, m)
			}
			c.free = func(string) (uint64, bool) { return tc.free, tc.free > 0 }

			path, err := c.Save([]byte("generation 4"))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Save: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Save: %s, %v; want an error saying %q", path, err, tc.wantErr)
			}
			if writes != tc.writes {
				t.Errorf("%d writes, want %d", writes, tc.writes)
			}
			var got []string
			for _, name := range dirNames(t, dir) {
				seq, ok := parseCheckpointName(name)
				if !ok {
					t.Errorf("%s left in the directory", name)
					continue
				}
				got = append(got, fmt.Sprint(seq))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("generations %v left, want %v", got, tc.want)
			}
		})
	}
}
