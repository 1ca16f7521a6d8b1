package state

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Snapshots is a directory of JPEG snapshots kept within a number of files
// and a number of bytes by deleting the oldest, which are the first in name
// order: names start with a UTC timestamp (see SnapshotName). Every file
// whose name Save would accept counts, including those of earlier runs;
// other files are left alone, except temporary files named ".tmp-…", which
// OpenSnapshots removes. A Snapshots is safe for concurrent use.
type Snapshots struct {
	dir      string
	maxCount int
	maxBytes int64
	meter    *Meter

	stale    []string
	staleErr error

	mu    sync.Mutex
	files []snapshot // in name order, oldest first
	bytes int64      // sum of files' sizes
}

type snapshot struct {
	name string
	size int64
}

// OpenSnapshots opens the snapshot directory dir, creating it (mode 0750)
// if needed, to hold at most maxCount snapshots of at most maxBytes bytes
// in all. It counts the snapshots already there, so the bounds hold across
// restarts; if those exceed the bounds, the next Save deletes the excess.
// Writes are counted by m, which may be nil. Temporary files left by a
// crash are removed; Stale reports them.
func OpenSnapshots(dir string, maxCount int, maxBytes int64, m *Meter) (*Snapshots, error) {
	if maxCount < 1 || maxBytes < 1 {
		return nil, fmt.Errorf("state: keep at most %d snapshots of %d bytes: both must be positive", maxCount, maxBytes)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: snapshot directory: %w", err)
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("state: snapshot directory: %w", err)
	}
	s := &Snapshots{dir: dir, maxCount: maxCount, maxBytes: maxBytes, meter: m}
	s.stale, s.staleErr = removeStale(dir, entries)
	for _, e := range entries {
		if checkSnapshotName(e.Name()) != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("state: snapshot directory: %w", err)
		}
		s.files = append(s.files, snapshot{e.Name(), fi.Size()})
		s.bytes += fi.Size()
	}
	return s, nil
}

// Dir returns the snapshot directory.
func (s *Snapshots) Dir() string { return s.dir }

// Stale returns the paths of the temporary files, left by a crash, that
// OpenSnapshots found, and the errors of removing those it could not
// remove. Both are for the caller to log.
func (s *Snapshots) Stale() ([]string, error) { return slices.Clone(s.stale), s.staleErr }

// Stats returns the number of snapshots and their total size in bytes.
func (s *Snapshots) Stats() (count int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files), s.bytes
}

// checkSnapshotName accepts a plain file name ending in ".jpg" that does not
// start with "." (hidden, or a temporary file) and leaves room for the
// temporary file's name.
func checkSnapshotName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.ContainsAny(name, "/\\\x00"):
		return errors.New("not a plain file name")
	case strings.Contains(name, ".."):
		return errors.New(`the name holds ".."`)
	case strings.HasPrefix(name, "."):
		return errors.New(`the name starts with "."`)
	case !strings.HasSuffix(name, ".jpg") || name == ".jpg":
		return errors.New(`the name does not end in ".jpg"`)
	case len(name) > 200:
		return fmt.Errorf("name of %d bytes, the limit is 200", len(name))
	}
	return nil
}

// Save writes data as the snapshot dir/name, atomically (see
// WriteFileAtomic), with mode 0640, replacing any snapshot of that name.
// name must be a plain file name ending in ".jpg" and not starting with
// "."; SnapshotName makes one. Save then deletes the oldest other snapshots
// until both bounds hold again (never the one just written, even when the
// clock went back), and returns the new file's path. A snapshot larger than
// the byte bound is refused. If the error is about deleting or about the
// final directory sync, the snapshot is in place and its path is returned
// with the error. Save does not keep data.
func (s *Snapshots) Save(name string, data []byte) (string, error) {
	if err := checkSnapshotName(name); err != nil {
		return "", fmt.Errorf("state: snapshot %q refused: %w", name, err)
	}
	if int64(len(data)) > s.maxBytes {
		return "", fmt.Errorf("state: snapshot %q of %d bytes refused: larger than the limit of %d bytes", name, len(data), s.maxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, name)
	renamed, err := writeFileAtomic(path, data, 0o640, s.meter)
	if !renamed {
		return "", err
	}
	i, found := slices.BinarySearchFunc(s.files, name, func(f snapshot, name string) int { return cmp.Compare(f.name, name) })
	if found {
		s.bytes -= s.files[i].size
		s.files[i].size = int64(len(data))
	} else {
		s.files = slices.Insert(s.files, i, snapshot{name, int64(len(data))})
	}
	s.bytes += int64(len(data))
	if err != nil {
		return path, err
	}
	return path, s.prune(name)
}

// prune deletes the oldest snapshots but keep until the bounds hold. It
// stops at the first file it cannot delete, which stays counted.
func (s *Snapshots) prune(keep string) error {
	for i := 0; i < len(s.files) && (len(s.files) > s.maxCount || s.bytes > s.maxBytes); {
		f := s.files[i]
		if f.name == keep {
			i++
			continue
		}
		err := os.Remove(filepath.Join(s.dir, f.name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state: delete old snapshot: %w", err)
		}
		s.files = slices.Delete(s.files, i, i+1)
		s.bytes -= f.size
	}
	return nil
}

// SnapshotName returns the name of a snapshot taken at t of frame number
// frame with probability pcat of a cat, such as
// "20261127T031500.123Z-f000001234-p0.93.jpg": t in UTC to the millisecond,
// so that names sort in time order, then the frame and p(cat) to two
// decimals.
func SnapshotName(t time.Time, frame uint64, pcat float32) string {
	return fmt.Sprintf("%s-f%09d-p%.2f.jpg", t.UTC().Format("20060102T150405.000Z"), frame, pcat)
}

// Delete deletes the snapshot dir/name, a name Save accepts, and no longer
// counts it. A file already gone (moved away: a review frame labelled) is
// no longer counted either, and the error wraps fs.ErrNotExist.
func (s *Snapshots) Delete(name string) error {
	if err := checkSnapshotName(name); err != nil {
		return fmt.Errorf("state: snapshot %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := os.Remove(filepath.Join(s.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: delete snapshot: %w", err)
	}
	if i, found := slices.BinarySearchFunc(s.files, name, func(f snapshot, name string) int { return cmp.Compare(f.name, name) }); found {
		s.bytes -= s.files[i].size
		s.files = slices.Delete(s.files, i, i+1)
	}
	if err != nil {
		return fmt.Errorf("state: delete snapshot: %w", err)
	}
	return nil
}
