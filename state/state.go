// Package state keeps catd's state directory (e.g. /var/lib/catd):
// checkpoints written so that a power cut or SIGKILL at any moment leaves a
// loadable one, JPEG snapshots bounded by count and bytes, and a meter of the
// bytes written (SD cards wear out).
//
// Every file is written by WriteFileAtomic: a temporary file named ".tmp-…"
// in the same directory is written, synced, closed and renamed over the
// destination, and the directory is synced. A reader, or catd after a crash,
// sees the old file or the new one, never a partial one. A crash can leave a
// temporary file behind; OpenCheckpoints and OpenSnapshots remove those and
// report their names (see Stale) so that the caller can log them.
//
// One catd at a time: LockDir takes an exclusive flock(2) on the file
// "lock" in the state directory, held for as long as catd runs, and a
// second catd on the same directory is refused with the holder's PID.
//
// A SIGKILL is survived by the rename alone; a power cut also needs the
// fsyncs, which is why every fsync error is returned. Both hold only on file
// systems that honour fsync and rename (ext4, the Raspberry Pi OS default,
// does; FAT does not make rename atomic).
package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Meter counts the bytes catd writes to its storage, to watch the wear of
// an SD card. It counts file contents only, not the file system's metadata
// and journal. The zero value is ready; a Meter is safe for concurrent use.
type Meter struct {
	n atomic.Int64
}

// Add adds n bytes to the meter.
func (m *Meter) Add(n int64) { m.n.Add(n) }

// Total returns the bytes added so far.
func (m *Meter) Total() int64 { return m.n.Load() }

// add is Add on a meter that may be nil.
func (m *Meter) add(n int) {
	if m != nil {
		m.n.Add(int64(n))
	}
}

// tmpPrefix starts the name of every temporary file this package writes.
const tmpPrefix = ".tmp-"

// WriteFileAtomic writes data to path with permissions perm (not masked by
// the umask): it writes a temporary file named ".tmp-…" in path's
// directory, syncs it, closes it, renames it over path and syncs the
// directory. If anything before the rename fails, the temporary file is
// removed and the file at path is untouched. If only the final directory
// sync fails, the new file is in place but may not survive a power cut; the
// error says so.
//
// The bytes written, len(data) when all goes well, are added to m, which
// may be nil. WriteFileAtomic does not keep data.
func WriteFileAtomic(path string, data []byte, perm os.FileMode, m *Meter) error {
	_, err := writeFileAtomic(path, data, perm, m)
	return err
}

// writeFileAtomic is WriteFileAtomic, also telling whether the new file
// took path's place, which is so if err is nil or comes from the directory
// sync.
func writeFileAtomic(path string, data []byte, perm os.FileMode, m *Meter) (renamed bool, err error) {
	return writeAtomic(path, perm, m, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for contents too large to hold in memory:
// write streams them into the temporary file (buffered), which takes
// path's place only if write returns nil.
func WriteAtomic(path string, perm os.FileMode, m *Meter, write func(io.Writer) error) error {
	_, err := writeAtomic(path, perm, m, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	return err
}

// meterWriter counts the bytes written through it into a Meter.
type meterWriter struct {
	w io.Writer
	m *Meter
}

func (mw meterWriter) Write(p []byte) (int, error) {
	n, err := mw.w.Write(p)
	mw.m.add(n)
	return n, err
}

func writeAtomic(path string, perm os.FileMode, m *Meter, write func(io.Writer) error) (renamed bool, err error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return false, fmt.Errorf("state: write %s: not a file name", path)
	}
	if dir == "" {
		dir = "."
	}
	if len(base) > 200 { // leave room for the prefix and CreateTemp's suffix in NAME_MAX (255)
		base = base[:200]
	}
	f, err := os.CreateTemp(dir, tmpPrefix+base+"-*")
	if err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if !renamed {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if err := write(meterWriter{f, m}); err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("state: write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("state: wrote %s but it may not survive a power cut: %w", path, err)
	}
	return true, nil
}

// syncDir makes the entries of directory dir (creations, renames) durable.
func syncDir(dir string) error {
	d, err := os.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil { // an *fs.PathError naming dir
		d.Close()
		return err
	}
	return d.Close()
}

// removeStale removes the temporary files a crash left among entries of
// dir. It returns their paths and the errors of those it could not remove.
func removeStale(dir string, entries []fs.DirEntry) ([]string, error) {
	var stale []string
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		stale = append(stale, p)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("state: remove stale temporary file: %w", err))
		}
	}
	return stale, errors.Join(errs...)
}
