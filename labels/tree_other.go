//go:build !linux

package labels

import (
	"os"
	"path/filepath"

	"catd/state"
)

// tree is the labels folder as the Inbox reads and changes it. Here, away
// from Linux, paths are plain paths: only the last name of a path is kept
// from being followed when it is a link (Lstat, O_NOFOLLOW), not a class
// folder swapped for one. See tree_linux.go for the full protection.
type tree struct{ dir string }

func newTree(dir string) *tree { return &tree{dir: dir} }

func (t *tree) path(rel string) string { return filepath.Join(t.dir, filepath.FromSlash(rel)) }

func (t *tree) readDirNames(rel string) ([]string, error) {
	f, err := os.Open(t.path(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func (t *tree) lstat(rel string) (os.FileInfo, error) { return os.Lstat(t.path(rel)) }

func (t *tree) openRead(rel string) (*os.File, error) { return openNoFollow(t.path(rel)) }

func (t *tree) readlink(rel string) (string, error) { return os.Readlink(t.path(rel)) }

func (t *tree) rename(from, to string) error { return os.Rename(t.path(from), t.path(to)) }

func (t *tree) mkdir(rel string, perm os.FileMode) error { return os.Mkdir(t.path(rel), perm) }

func (t *tree) writeFile(rel string, data []byte, perm os.FileMode, m *state.Meter) error {
	return state.WriteFileAtomic(t.path(rel), data, perm, m)
}

func (t *tree) overwrite(rel string, data []byte) error {
	return os.WriteFile(t.path(rel), data, 0o600)
}

func (t *tree) moveIn(srcDir, name, rel string) error {
	if _, err := os.Lstat(t.path(rel)); err == nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(srcDir, name), New: t.path(rel), Err: os.ErrExist}
	}
	return os.Rename(filepath.Join(srcDir, name), t.path(rel))
}
