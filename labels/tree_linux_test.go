//go:build linux

package labels

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"catd/internal/testwait"
)

// resolvers are the two ways a tree resolves paths: openat2 (Linux 5.6
// on) and, forced here, the walk with O_NOFOLLOW that older kernels get.
var resolvers = []struct {
	name      string
	noOpenat2 bool
}{
	{"openat2", false},
	{"O_NOFOLLOW walk", true},
}

// Every operation of a tree refuses a link in the middle of a path and
// does not follow one at its end.
func TestTreeRefusesLinks(t *testing.T) {
	for _, res := range resolvers {
		t.Run(res.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(outside, "secret"), []byte("outside"))
			if err := os.Mkdir(filepath.Join(root, "cat"), 0o750); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(root, "cat", "a"), []byte("inside"))
			for link, to := range map[string]string{"lnk": outside, "cat/l": filepath.Join(outside, "secret")} {
				if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
					t.Fatal(err)
				}
			}
			opens := watchOutside(t, outside)
			tr := newTree(root)
			tr.noOpenat2 = res.noOpenat2

			refused := []struct {
				name string
				op   func() error
			}{
				{"readDirNames through a link", func() error { _, err := tr.readDirNames("lnk"); return err }},
				{"lstat through a link", func() error { _, err := tr.lstat("lnk/secret"); return err }},
				{"openRead through a link", func() error { _, err := tr.openRead("lnk/secret"); return err }},
				{"openRead of a link", func() error { _, err := tr.openRead("cat/l"); return err }},
				{"readlink through a link", func() error { _, err := tr.readlink("lnk/secret"); return err }},
				{"rename from through a link", func() error { return tr.rename("lnk/secret", "cat/b") }},
				{"rename into a link", func() error { return tr.rename("cat/a", "lnk/a") }},
				{"mkdir through a link", func() error { return tr.mkdir("lnk/d", 0o750) }},
				{"writeFile through a link", func() error { return tr.writeFile("lnk/x.txt", []byte("x"), 0o640, nil) }},
			}
			for _, c := range refused {
				if err := c.op(); !classGone(err) {
					t.Errorf("%s: err = %v, want ELOOP or ENOTDIR", c.name, err)
				}
			}
			for _, rel := range []string{"../x", "cat/../../x", "/etc/passwd", "cat//a", "./cat"} {
				if _, err := tr.openRead(rel); !errors.Is(err, fs.ErrInvalid) {
					t.Errorf("openRead(%q): err = %v, want fs.ErrInvalid", rel, err)
				}
			}
			if st, err := tr.lstat("cat/l"); err != nil || st.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("lstat of a link: %v, %v; want the link itself", st, err)
			}
			if to, err := tr.readlink("cat/l"); err != nil || to != filepath.Join(outside, "secret") {
				t.Errorf("readlink = %q, %v", to, err)
			}
			if f, err := tr.openRead("cat/a"); err != nil {
				t.Errorf("openRead of a plain file: %v", err)
			} else {
				f.Close()
			}
			if err := tr.writeFile("cat/a.txt", []byte("why\n"), 0o640, nil); err != nil {
				t.Errorf("writeFile: %v", err)
			}
			if err := tr.rename("cat/a.txt", "a.txt"); err != nil {
				t.Errorf("rename: %v", err)
			}
			if got := opens(); len(got) != 0 {
				t.Errorf("the folder outside was touched: %v", got)
			}
			if got := listDir(t, outside); !slices.Equal(got, []string{"secret"}) {
				t.Errorf("outside holds %v", got)
			}
			if res.noOpenat2 == false && tr.noOpenat2 {
				t.Log("this kernel has no openat2: the walk was tested twice")
			}
		})
	}
}

// A class folder, or done/, swapped for a link to a folder elsewhere
// (renameat2 RENAME_EXCHANGE, while Run runs) is not followed: nothing
// there is listed, opened, read, moved or quoted; the link is refused,
// moved aside to NAME.refused, and the folder is made again. A link in a
// class folder to a file elsewhere is rejected unread, as ever.
func TestFolderSwappedForLink(t *testing.T) {
	const secret = "SECRET_TOKEN=hunter2"
	cases := []struct {
		name string
		swap string // the folder exchanged for a link, or "" for a file link in cat/
		log  string // what the log must say
	}{
		{"class folder exchanged for a link", Cat, "refused a folder that is not a real folder"},
		{"done folder exchanged for a link", DoneDir, "refused a folder that is not a real folder"},
		{"file link in a class folder", "", "symbolic link"},
	}
	for _, res := range resolvers {
		for _, tc := range cases {
			t.Run(res.name+"/"+tc.name, func(t *testing.T) {
				dir, outside := t.TempDir(), t.TempDir()
				photo := makeJPEG(t, 16, 16, 5)
				files := map[string][]byte{"photo.jpg": photo, "secret.jpg": []byte(secret + "\n")}
				for name, data := range files {
					writeFile(t, filepath.Join(outside, name), data)
				}
				logs := &logBuffer{}
				opt := testOptions(t, dir)
				opt.Rescan = 100 * time.Millisecond
				opt.Log = zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), logs)).Level(zerolog.DebugLevel)
				rec := newRecorder()
				r := start(t, opt, rec.take, func(in *Inbox) { in.tree.noOpenat2 = res.noOpenat2 })
				// A first label, taken, shows Run is watching.
				writeFile(t, filepath.Join(dir, Cat, "first.jpg"), makeJPEG(t, 16, 16, 1))
				testwait.For(t, "first.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "first.jpg")) })

				opens := watchOutside(t, outside)
				if tc.swap != "" {
					link := filepath.Join(t.TempDir(), "link")
					if err := os.Symlink(outside, link); err != nil {
						t.Fatal(err)
					}
					err := unix.Renameat2(unix.AT_FDCWD, link, unix.AT_FDCWD, filepath.Join(dir, tc.swap), unix.RENAME_EXCHANGE)
					if err != nil {
						t.Skip("renameat2 RENAME_EXCHANGE:", err)
					}
				} else {
					for name := range files {
						if err := os.Symlink(filepath.Join(outside, name), filepath.Join(dir, Cat, name)); err != nil {
							t.Fatal(err)
						}
					}
				}
				// Labels are taken again, into the real folders (noncat/ is
				// never swapped: the test does not write through the link).
				writeFile(t, filepath.Join(dir, NonCat, "next.jpg"), makeJPEG(t, 16, 16, 2))
				testwait.For(t, "the refusal logged", func() bool { return strings.Contains(logs.String(), tc.log) })
				if tc.swap != "" {
					testwait.For(t, tc.swap+" made again", func() bool {
						st, err := os.Lstat(filepath.Join(dir, tc.swap))
						return err == nil && st.IsDir()
					})
					if st, err := os.Lstat(filepath.Join(dir, tc.swap+".refused")); err != nil || st.Mode()&fs.ModeSymlink == 0 {
						t.Errorf("%s.refused is not the link: %v", tc.swap, err)
					}
				} else {
					testwait.For(t, "both links rejected", func() bool { return r.in.Stats().Rejected == 2 })
				}
				testwait.For(t, "next.jpg taken", func() bool {
					st, err := os.Lstat(filepath.Join(dir, DoneDir))
					return err == nil && st.IsDir() && exists(filepath.Join(dir, DoneDir, NonCat, "next.jpg"))
				})

				if got := opens(); len(got) != 0 {
					t.Errorf("the folder outside was touched: %v", got)
				}
				for name, data := range files {
					if got, err := os.ReadFile(filepath.Join(outside, name)); err != nil || !bytes.Equal(got, data) {
						t.Errorf("outside/%s changed: %v", name, err)
					}
				}
				if got := listDir(t, outside); !slices.Equal(got, []string{"photo.jpg", "secret.jpg"}) {
					t.Errorf("outside holds %v", got)
				}
				if got := rec.names(); !slices.Equal(got, []string{"cat/first.jpg", "noncat/next.jpg"}) {
					t.Errorf("took %v", got)
				}
				for _, sub := range []string{DoneDir + "/" + Cat, DoneDir + "/" + NonCat, RejectedDir} {
					if !exists(filepath.Join(dir, sub)) {
						continue // done/cat/ is made again only when a cat label comes
					}
					for _, name := range listDir(t, filepath.Join(dir, sub)) {
						p := filepath.Join(dir, sub, name)
						if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
							continue // the rejected links themselves
						}
						data, err := os.ReadFile(p)
						if err == nil && strings.Contains(string(data), "hunter2") {
							t.Errorf("%s/%s holds the secret: %q", sub, name, data)
						}
					}
				}
				if strings.Contains(logs.String(), "hunter2") {
					t.Error("the log quotes the secret")
				}
			})
		}
	}
}

// logBuffer is an io.Writer for a zerolog.Logger that tests read from
// while Run writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watchOutside watches dir with inotify for anything that opens, reads,
// changes or moves it or a file in it, and returns a function that lists
// what happened since (closed with the test).
func watchOutside(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	const mask = unix.IN_OPEN | unix.IN_ACCESS | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVE |
		unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		var got []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				return got
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				got = append(got, name+" "+inotifyMask(ev.Mask))
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// inotifyMask names the bits of an inotify event mask.
func inotifyMask(m uint32) string {
	var s []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{unix.IN_OPEN, "open"}, {unix.IN_ACCESS, "read"}, {unix.IN_MODIFY, "write"}, {unix.IN_ATTRIB, "attrib"},
		{unix.IN_MOVED_FROM, "moved from"}, {unix.IN_MOVED_TO, "moved to"}, {unix.IN_CREATE, "create"},
		{unix.IN_DELETE, "delete"}, {unix.IN_DELETE_SELF, "deleted"}, {unix.IN_MOVE_SELF, "moved"},
		{unix.IN_ISDIR, "(folder)"}} {
		if m&b.bit != 0 {
			s = append(s, b.name)
		}
	}
	return strings.Join(s, ",")
}

// TestMoveInRefusesLinkedClassFolder: catd's own move of a review frame
// into a class folder does not write through a class folder swapped for a
// link to a folder elsewhere, and does not replace a label of the same
// name; an ordinary move lands in the class folder.
func TestMoveInRefusesLinkedClassFolder(t *testing.T) {
	for _, res := range resolvers {
		t.Run(res.name, func(t *testing.T) {
			dir, outside, review := t.TempDir(), t.TempDir(), t.TempDir()
			in, err := New(testOptions(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			in.tree.noOpenat2 = res.noOpenat2
			writeFile(t, filepath.Join(review, "f1.jpg"), []byte("frame 1"))
			writeFile(t, filepath.Join(review, "f2.jpg"), []byte("frame 2"))
			if err := in.MoveIn(review, "f1.jpg", Cat); err != nil {
				t.Fatal(err)
			}
			if !exists(filepath.Join(dir, Cat, "f1.jpg")) {
				t.Fatal("f1.jpg is not in cat/")
			}
			writeFile(t, filepath.Join(review, "f1.jpg"), []byte("another frame 1"))
			if err := in.MoveIn(review, "f1.jpg", Cat); err == nil {
				t.Error("a label of the same name was replaced")
			}
			if err := os.Rename(filepath.Join(dir, NonCat), filepath.Join(dir, "noncat.old")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, NonCat)); err != nil {
				t.Fatal(err)
			}
			if err := in.MoveIn(review, "f2.jpg", NonCat); err == nil {
				t.Error("moved through noncat/, a link to a folder elsewhere")
			}
			if got := listDir(t, outside); len(got) != 0 {
				t.Errorf("the folder behind the link holds %v", got)
			}
			if !exists(filepath.Join(review, "f2.jpg")) {
				t.Error("the review frame is gone")
			}
			for _, bad := range []string{"", ".", "..", "../x.jpg", "a/b.jpg", ".hidden.jpg"} {
				if err := in.MoveIn(review, bad, Cat); err == nil {
					t.Errorf("MoveIn(%q) accepted", bad)
				}
			}
		})
	}
}
