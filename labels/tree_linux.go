//go:build linux

package labels

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"catd/state"
)

// tree is the labels folder as the Inbox reads and changes it: every path
// inside it ("cat", "cat/x.jpg") is resolved relative to the folder, and a
// symbolic link in any of its components is refused (ELOOP, see isLinkErr)
// instead of followed. The labels folder itself (Options.Dir) is opened as
// given, links included.
//
// Paths are resolved by openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
// where the kernel has it (Linux 5.6 on), or else one component at a time
// with openat(2) and O_NOFOLLOW|O_DIRECTORY, each checked by fstat to be a
// folder. Moves are renameat(2) between folder descriptors opened that
// way, so that a class folder swapped for a link between two calls cannot
// make catd read, move or write a file elsewhere.
type tree struct {
	dir string
	// noOpenat2 makes the tree walk paths one component at a time. It is
	// set when openat2 is missing (ENOSYS before Linux 5.6, EPERM from some
	// seccomp filters), and by tests to exercise that path.
	noOpenat2 bool
}

func newTree(dir string) *tree { return &tree{dir: dir} }

// validRel reports whether rel is a path inside the tree: "" (the labels
// folder) or slash-separated names, none empty, "." or "..".
func validRel(rel string) bool {
	if rel == "" {
		return true
	}
	for {
		first, rest, more := strings.Cut(rel, "/")
		if first == "" || first == "." || first == ".." {
			return false
		}
		if !more {
			return true
		}
		rel = rest
	}
}

// open opens rel with flags (O_NOFOLLOW and O_CLOEXEC are added). For ""
// it opens the labels folder, whatever flags say.
func (t *tree) open(rel string, flags int) (*os.File, error) {
	full := filepath.Join(t.dir, filepath.FromSlash(rel))
	if !validRel(rel) {
		return nil, &fs.PathError{Op: "open", Path: full, Err: fs.ErrInvalid}
	}
	root, err := retry(func() (int, error) {
		return unix.Open(t.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: t.dir, Err: err}
	}
	if rel == "" {
		return os.NewFile(uintptr(root), t.dir), nil
	}
	defer unix.Close(root)
	fd, err := t.openat(root, rel, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	return os.NewFile(uintptr(fd), full), nil
}

// openat opens rel beneath the folder root without following links.
func (t *tree) openat(root int, rel string, flags int) (int, error) {
	if !t.noOpenat2 {
		how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
		fd, err := retry(func() (int, error) { return unix.Openat2(root, rel, &how) })
		if err != unix.ENOSYS && err != unix.EPERM {
			return fd, err
		}
		t.noOpenat2 = true
	}
	dir := root
	defer func() {
		if dir != root {
			unix.Close(dir)
		}
	}()
	for {
		name, rest, more := strings.Cut(rel, "/")
		if !more {
			return retry(func() (int, error) { return unix.Openat(dir, name, flags, 0) })
		}
		fd, err := retry(func() (int, error) {
			return unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			if err == nil {
				err = unix.ENOTDIR
			}
			return -1, err
		}
		if dir != root {
			unix.Close(dir)
		}
		dir, rel = fd, rest
	}
}

// retry calls open until it fails with something else than EINTR.
func retry(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// parent opens the folder holding rel (O_PATH: for *at calls only) and
// returns it with rel's last name.
func (t *tree) parent(rel string, flags int) (*os.File, string, error) {
	dir, name := path.Split(rel)
	if name == "" {
		return nil, "", &fs.PathError{Op: "open", Path: filepath.Join(t.dir, rel), Err: fs.ErrInvalid}
	}
	f, err := t.open(path.Clean("/" + dir)[1:], flags|unix.O_DIRECTORY)
	return f, name, err
}

// readDirNames returns the names in the folder rel, unsorted, without
// looking at the files.
func (t *tree) readDirNames(rel string) ([]string, error) {
	f, err := t.open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// lstat describes rel itself: a link at the end of rel is described, not
// followed; one before it is refused.
func (t *tree) lstat(rel string) (os.FileInfo, error) {
	f, err := t.open(rel, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// openRead opens the file rel for reading, refusing a link and not
// waiting for a writer on a named pipe (O_NONBLOCK, which makes no
// difference to reading a regular file).
func (t *tree) openRead(rel string) (*os.File, error) {
	return t.open(rel, unix.O_RDONLY|unix.O_NONBLOCK)
}

// readlink returns what the link rel points to.
func (t *tree) readlink(rel string) (string, error) {
	d, name, err := t.parent(rel, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer d.Close()
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		got, err := unix.Readlinkat(int(d.Fd()), name, buf)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: filepath.Join(t.dir, rel), Err: err}
		}
		if got < n {
			return string(buf[:got]), nil
		}
	}
}

// rename moves from to to, both inside the tree; neither's last name is
// followed if it is a link (rename(2) moves links themselves).
func (t *tree) rename(from, to string) error {
	fd, fname, err := t.parent(from, unix.O_PATH)
	if err != nil {
		return err
	}
	defer fd.Close()
	td, tname, err := t.parent(to, unix.O_PATH)
	if err != nil {
		return err
	}
	defer td.Close()
	if err := unix.Renameat(int(fd.Fd()), fname, int(td.Fd()), tname); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(t.dir, from), New: filepath.Join(t.dir, to), Err: err}
	}
	return nil
}

// mkdir makes the folder rel with permissions perm (less the umask).
func (t *tree) mkdir(rel string, perm os.FileMode) error {
	d, name, err := t.parent(rel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mkdirat(int(d.Fd()), name, uint32(perm.Perm())); err != nil {
		return &fs.PathError{Op: "mkdir", Path: filepath.Join(t.dir, rel), Err: err}
	}
	return nil
}

// writeFile writes data to rel as state.WriteFileAtomic does (a temporary
// ".tmp-…" file, synced and renamed over rel, then the folder synced), with
// every step relative to rel's folder. The bytes written are added to m,
// which may be nil.
func (t *tree) writeFile(rel string, data []byte, perm os.FileMode, m *state.Meter) (err error) {
	full := filepath.Join(t.dir, rel)
	d, name, err := t.parent(rel, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer d.Close()
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := ".tmp-" + name[:min(len(name), 200)] + "-" + hex.EncodeToString(rnd[:])
	fd, err := retry(func() (int, error) {
		return unix.Openat(int(d.Fd()), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	})
	if err != nil {
		return &fs.PathError{Op: "write", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(filepath.Dir(full), tmp))
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			unix.Unlinkat(int(d.Fd()), tmp, 0)
		}
	}()
	n, err := f.Write(data)
	if m != nil {
		m.Add(int64(n))
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := unix.Renameat(int(d.Fd()), tmp, int(d.Fd()), name); err != nil {
		return &fs.PathError{Op: "write", Path: full, Err: err}
	}
	renamed = true
	if err := d.Sync(); err != nil {
		return errors.Join(errors.New("labels: wrote "+full+" but it may not survive a power cut"), err)
	}
	return nil
}

// overwrite writes data into rel in place (created 0600 if missing,
// truncated if not), unsynced: for the intake record, which must survive
// the process being killed, not the power being cut.
func (t *tree) overwrite(rel string, data []byte) error {
	d, name, err := t.parent(rel, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer d.Close()
	fd, err := retry(func() (int, error) {
		return unix.Openat(int(d.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return &fs.PathError{Op: "write", Path: filepath.Join(t.dir, rel), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(t.dir, rel))
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// moveIn moves the file name of the folder srcDir (outside the tree) to
// rel inside it, resolving rel's folder beneath the tree without following
// links, and never replacing a file already at rel.
func (t *tree) moveIn(srcDir, name, rel string) error {
	sd, err := os.Open(srcDir)
	if err != nil {
		return err
	}
	defer sd.Close()
	td, tname, err := t.parent(rel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer td.Close()
	err = unix.Renameat2(int(sd.Fd()), name, int(td.Fd()), tname, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS { // a file system or kernel without RENAME_NOREPLACE
		var st unix.Stat_t
		if err = unix.Fstatat(int(td.Fd()), tname, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			err = unix.EEXIST
		} else if err == unix.ENOENT {
			err = unix.Renameat(int(sd.Fd()), name, int(td.Fd()), tname)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(srcDir, name), New: filepath.Join(t.dir, rel), Err: err}
	}
	return nil
}
