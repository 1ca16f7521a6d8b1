package labels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fsnotify/fsnotify"

	"catd/preprocess"
	"catd/state"

	"catd/internal/testwait"
)

func TestNew(t *testing.T) {
	t.Run("makes the folders", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "labels")
		if _, err := New(testOptions(t, dir)); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []string{Cat, NonCat, DoneDir, RejectedDir, DoneDir + "/" + Cat, DoneDir + "/" + NonCat} {
			st, err := os.Lstat(filepath.Join(dir, sub))
			if err != nil || !st.IsDir() {
				t.Errorf("%s: %v", sub, err)
				continue
			}
			if p := st.Mode().Perm(); p&^0o750 != 0 {
				t.Errorf("%s has mode %v, want at most 0750", sub, p)
			}
		}
	})
	t.Run("refuses a linked class folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(t.TempDir(), filepath.Join(dir, Cat)); err != nil {
			t.Fatal(err)
		}
		if _, err := New(testOptions(t, dir)); err == nil || !strings.Contains(err.Error(), "not a folder") {
			t.Errorf("New = %v, want a not-a-folder error", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, opt := range []Options{{W: 16, H: 16}, {Dir: t.TempDir(), W: 0, H: 16}, {Dir: t.TempDir(), W: 16, H: 5000}} {
			if _, err := New(opt); err == nil {
				t.Errorf("New(%+v) succeeded", opt)
			}
		}
	})
}

func TestPresentAtStart(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	if _, err := New(opt); err != nil { // makes the folders
		t.Fatal(err)
	}
	files := map[string][]byte{
		"cat/a.jpg":    makeJPEG(t, 64, 48, 1),
		"cat/b.png":    makePNG(t, 40, 30, 2),
		"noncat/c.jpg": makeJPEG(t, 32, 32, 3),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	rec := newRecorder()
	r := start(t, opt, rec.take, nil)
	testwait.For(t, "three files taken", func() bool { return len(doneFiles(t, dir)) == 3 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	got := rec.names()
	slices.Sort(got)
	if want := []string{"cat/a.jpg", "cat/b.png", "noncat/c.jpg"}; !slices.Equal(got, want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	for _, ex := range rec.examples() {
		checkExample(t, ex, ex.Class, ex.Name, files[ex.Class+"/"+ex.Name], opt)
	}
	if got := doneFiles(t, dir); !slices.Equal(got, []string{"cat/a.jpg", "cat/b.png", "noncat/c.jpg"}) {
		t.Errorf("done/ holds %v", got)
	}
	if n := len(listDir(t, filepath.Join(dir, Cat))) + len(listDir(t, filepath.Join(dir, NonCat))); n != 0 {
		t.Errorf("%d files left in the class folders", n)
	}
	if s := r.in.Stats(); s != (Stats{Taken: 3}) {
		t.Errorf("Stats = %+v", s)
	}
}

// Files there at start are taken before files that arrive later.
func TestOrder(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	if _, err := New(opt); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, Cat, "z-old.jpg"), makeJPEG(t, 16, 16, 1))
	rec := newRecorder()
	r := start(t, opt, rec.take, nil)
	// Once Run has found the old file, a new one arrives, with a name
	// that sorts first.
	testwait.For(t, "the old file found", func() bool { return r.in.Stats().Pending == 1 || rec.calls() > 0 })
	writeFile(t, filepath.Join(dir, Cat, "a-new.jpg"), makeJPEG(t, 16, 16, 2))
	testwait.For(t, "both taken", func() bool { return rec.calls() == 2 })
	if got := rec.names(); !slices.Equal(got, []string{"cat/z-old.jpg", "cat/a-new.jpg"}) {
		t.Errorf("took %v, want the file present at start first", got)
	}
}

func TestSlowWrite(t *testing.T) {
	img := makeJPEG(t, 120, 90, 5)
	// A complete JPEG followed by more bytes decodes as that JPEG: only
	// waiting for the file to settle keeps the first chunk from being
	// taken (with the wrong hash).
	tail := append(slices.Clone(img), bytes.Repeat([]byte("trailing bytes "), 100)...)
	tests := []struct {
		name   string
		data   []byte
		chunks int
		pause  time.Duration
		settle time.Duration
	}{
		// Pauses within Settle: the file settles only once complete.
		{"pauses shorter than settle", img, 4, 15 * time.Millisecond, 100 * time.Millisecond},
		{"first chunk a whole image", tail, 2, 20 * time.Millisecond, 200 * time.Millisecond},
		// Pauses beyond Settle: the partial file is read, does not decode,
		// and is waited for (RejectAfter) rather than rejected.
		{"pauses longer than settle", img, 2, 250 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := testOptions(t, dir)
			opt.Settle = tt.settle
			opt.RejectAfter = 2 * time.Second
			rec := newRecorder()
			r := start(t, opt, rec.take, nil)
			data := tt.data
			if tt.chunks == 2 && len(data) > len(img) {
				// Split exactly after the image.
				writeChunks(t, filepath.Join(dir, Cat, "slow.jpg"), tt.pause, data[:len(img)], data[len(img):])
			} else {
				writeSlowly(t, filepath.Join(dir, Cat, "slow.jpg"), data, tt.chunks, tt.pause)
			}
			testwait.For(t, "slow.jpg in done/", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "slow.jpg")) })
			// Give a wrong second take time to happen.
			time.Sleep(3 * opt.Settle)
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			got := rec.examples()
			if len(got) != 1 {
				t.Fatalf("took %d times, want once", len(got))
			}
			checkExample(t, got[0], Cat, "slow.jpg", data, opt)
			if s := r.in.Stats(); s != (Stats{Taken: 1}) {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

func TestRenameIn(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	review := filepath.Join(dir, "review")
	if err := os.Mkdir(review, 0o755); err != nil {
		t.Fatal(err)
	}
	data := makeJPEG(t, 48, 64, 7)
	src := filepath.Join(review, "frame-000042-p0.51.jpg")
	writeFile(t, src, data)
	when := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(src, when, when); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	start(t, opt, rec.take, nil)
	if err := os.Rename(src, filepath.Join(dir, NonCat, "frame-000042-p0.51.jpg")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the frame in done/", func() bool { return exists(filepath.Join(dir, DoneDir, NonCat, "frame-000042-p0.51.jpg")) })
	got := rec.examples()
	if len(got) != 1 {
		t.Fatalf("took %d, want 1", len(got))
	}
	checkExample(t, got[0], NonCat, "frame-000042-p0.51.jpg", data, opt)
	if !got[0].Time.Equal(when) {
		t.Errorf("Time = %v, want the file's modification time %v", got[0].Time, when)
	}
}

func TestIgnoredNames(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	start(t, opt, rec.take, nil)
	data := makeJPEG(t, 32, 24, 1)
	ignoredNames := []string{".x.jpg", "x.jpg~", "x.jpg.part", "X.JPG.PART", "x.partial", "x.tmp", "x.crdownload", ".x.jpg.swp", "x.swp"}
	for _, name := range ignoredNames {
		writeSlowly(t, filepath.Join(dir, Cat, name), data, 2, 10*time.Millisecond)
	}
	if err := os.Mkdir(filepath.Join(dir, Cat, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, Cat, "sub", "in-sub.jpg"), data)
	// A file dropped after them all: once it is taken, they were looked
	// at too.
	writeFile(t, filepath.Join(dir, Cat, "sentinel.png"), makePNG(t, 8, 8, 1))
	testwait.For(t, "sentinel taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "sentinel.png")) })
	// Give a wrong take time to happen.
	time.Sleep(3 * opt.Settle)
	if got := rec.names(); !slices.Equal(got, []string{"cat/sentinel.png"}) {
		t.Errorf("took %v, want only the sentinel", got)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(ignoredNames), "sub")))
	if got := listDir(t, filepath.Join(dir, Cat)); !slices.Equal(got, want) {
		t.Errorf("cat/ holds %v, want %v", got, want)
	}
	if !exists(filepath.Join(dir, Cat, "sub", "in-sub.jpg")) {
		t.Error("the file in a subfolder was moved")
	}

	// Renamed to a real name, the temporary file is taken.
	if err := os.Rename(filepath.Join(dir, Cat, "x.jpg.part"), filepath.Join(dir, Cat, "x.jpg")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "x.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "x.jpg")) })
	got := rec.examples()
	if len(got) != 2 {
		t.Fatalf("took %d, want 2", len(got))
	}
	checkExample(t, got[1], Cat, "x.jpg", data, opt)
}

func TestIgnored(t *testing.T) {
	for name, want := range map[string]bool{
		"a.jpg": false, "a": false, "a.txt": false, "a.JPG": false, "part": false, "a.tmp.jpg": false,
		".a.jpg": true, "a.jpg~": true, "a.jpg.part": true, "a.Part": true, "a.tmp": true,
		"a.crdownload": true, ".a.jpg.swp": true, "a.partial": true, "": true,
	} {
		if got := ignored(name); got != want {
			t.Errorf("ignored(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		make   func(t *testing.T, path string) // makes the file at path
		adjust func(*Options)
		reason string // a part of the reason
	}{
		{
			name: "corrupt JPEG", file: "corrupt.jpg",
			make: func(t *testing.T, p string) {
				data := makeJPEG(t, 64, 48, 1)
				for i := len(data) / 3; i < len(data)/3+64; i++ {
					data[i] = 0xff
				}
				writeFile(t, p, data)
			},
			reason: "corrupt",
		},
		{
			name: "JPEG with a broken header", file: "header.jpg",
			make: func(t *testing.T, p string) {
				writeFile(t, p, append([]byte{0xff, 0xd8, 0xff}, bytes.Repeat([]byte("garbage!"), 64)...))
			},
			reason: "invalid JPEG format",
		},
		{
			name: "text named .jpg", file: "x.jpg",
			make:   func(t *testing.T, p string) { writeFile(t, p, []byte("hello, I am not a picture\n")) },
			reason: "not a JPEG or PNG image",
		},
		{
			name: "truncated JPEG", file: "half.jpg",
			make: func(t *testing.T, p string) {
				data := makeJPEG(t, 64, 48, 1)
				writeFile(t, p, data[:len(data)-40])
			},
			reason: "cut short",
		},
		{
			name: "truncated PNG", file: "half.png",
			make: func(t *testing.T, p string) {
				data := makePNG(t, 64, 48, 1)
				writeFile(t, p, data[:len(data)/2])
			},
			reason: "PNG",
		},
		{
			name: "empty", file: "empty.jpg",
			make:   func(t *testing.T, p string) { writeFile(t, p, nil) },
			reason: "empty file",
		},
		{
			name: "too many bytes", file: "big.jpg",
			make:   func(t *testing.T, p string) { writeFile(t, p, makeJPEG(t, 64, 48, 1)) },
			adjust: func(o *Options) { o.MaxBytes = 1000 },
			reason: "over the limit of 1000 bytes",
		},
		{
			name: "too many pixels", file: "pixels.png",
			make:   func(t *testing.T, p string) { writeFile(t, p, makePNG(t, 64, 48, 1)) },
			adjust: func(o *Options) { o.MaxPixels = 1000 },
			reason: "64x48 = 3072 pixels is over the limit of 1000 pixels",
		},
		{
			name: "PNG declaring 20000x20000", file: "huge.png",
			make:   func(t *testing.T, p string) { writeFile(t, p, hugePNG(t, 20000, 20000)) },
			reason: "20000x20000",
		},
		{
			name: "JPEG declaring 20000x20000", file: "huge.jpg",
			make:   func(t *testing.T, p string) { writeFile(t, p, hugeJPEG(t, 20000, 20000)) },
			reason: "20000x20000",
		},
		{
			name: "symbolic link to an image elsewhere", file: "link.jpg",
			make: func(t *testing.T, p string) {
				target := filepath.Join(t.TempDir(), "secret.jpg")
				writeFile(t, target, makeJPEG(t, 16, 16, 1))
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			},
			reason: "symbolic link",
		},
		{
			name: "dangling symbolic link", file: "dangling.jpg",
			make: func(t *testing.T, p string) {
				if err := os.Symlink("/nonexistent/x.jpg", p); err != nil {
					t.Fatal(err)
				}
			},
			reason: "symbolic link",
		},
		{
			name: "symbolic link to a folder", file: "etc",
			make: func(t *testing.T, p string) {
				if err := os.Symlink(t.TempDir(), p); err != nil {
					t.Fatal(err)
				}
			},
			reason: "symbolic link",
		},
		{
			name: "hard link", file: "hard.jpg",
			make: func(t *testing.T, p string) {
				other := filepath.Join(filepath.Dir(p), "..", "elsewhere.jpg")
				writeFile(t, other, makeJPEG(t, 16, 16, 1))
				if err := os.Link(other, p); err != nil {
					t.Skip("no hard links here:", err)
				}
			},
			reason: "2 hard links",
		},
		{
			name: "named pipe", file: "fifo.jpg",
			make: func(t *testing.T, p string) {
				if runtime.GOOS == "windows" {
					t.Skip("no named pipes")
				}
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Skip("mkfifo:", err)
				}
			},
			reason: "named pipe",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := testOptions(t, dir)
			opt.Meter = new(state.Meter)
			if tt.adjust != nil {
				tt.adjust(&opt)
			}
			if _, err := New(opt); err != nil {
				t.Fatal(err)
			}
			// Half the cases are there at start, half arrive later.
			rec := newRecorder()
			var r *running
			if len(tt.name)%2 == 0 {
				tt.make(t, filepath.Join(dir, Cat, tt.file))
				r = start(t, opt, rec.take, nil)
			} else {
				r = start(t, opt, rec.take, nil)
				tt.make(t, filepath.Join(dir, Cat, tt.file))
			}
			testwait.For(t, "the reason file", func() bool { return exists(filepath.Join(dir, RejectedDir, tt.file+".txt")) })
			line := checkRejected(t, dir, tt.file, tt.reason)
			t.Logf("reason: %s", strings.TrimSpace(line))
			if exists(filepath.Join(dir, Cat, tt.file)) {
				t.Error("the file is still in cat/")
			}
			if n := rec.calls(); n != 0 {
				t.Errorf("take called %d times", n)
			}
			statsSettle(t, r.in, Stats{Rejected: 1})
			if got := opt.Meter.Total(); got != int64(len(line)) {
				t.Errorf("meter counted %d bytes, want %d", got, len(line))
			}
		})
	}
}

// A symbolic link is rejected without reading what it points to.
func TestSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	start(t, opt, rec.take, nil)
	target := filepath.Join(t.TempDir(), "private.jpg")
	data := makeJPEG(t, 16, 16, 3)
	writeFile(t, target, data)
	if err := os.Symlink(target, filepath.Join(dir, Cat, "private.jpg")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "rejection", func() bool { return exists(filepath.Join(dir, RejectedDir, "private.jpg.txt")) })
	st, err := os.Lstat(filepath.Join(dir, RejectedDir, "private.jpg"))
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("rejected/private.jpg is not the link itself: %v", err)
	}
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the link's target changed: %v", err)
	}
	if rec.calls() != 0 {
		t.Error("take was called")
	}
}

// The pixels are those of the daemon's path (dataset.DecodeImage, then
// preprocess.Resizer.Image) with the daemon's resize options.
func TestPixels(t *testing.T) {
	images := map[string][]byte{
		"colour.jpg":  makeJPEG(t, 101, 67, 1),
		"gray.jpg":    makeGrayJPEG(t, 50, 77, 2),
		"alpha.png":   makePNG(t, 63, 45, 3),
		"palette.png": makePalettedPNG(t, 33, 20),
	}
	resize := []struct {
		name string
		opt  preprocess.Options
	}{
		{"crop", preprocess.Options{}},
		{"letterbox roi", preprocess.Options{Fit: preprocess.Letterbox, ROI: image.Rect(5, 3, 40, 60)}},
		{"stretch", preprocess.Options{Fit: preprocess.Stretch}},
	}
	for _, rs := range resize {
		t.Run(rs.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := testOptions(t, dir)
			opt.W, opt.H, opt.Resize = 13, 11, rs.opt
			rec := newRecorder()
			start(t, opt, rec.take, nil)
			for name, data := range images {
				writeFile(t, filepath.Join(dir, Cat, name), data)
			}
			testwait.For(t, "all taken", func() bool { return rec.calls() == len(images) })
			for _, ex := range rec.examples() {
				if len(ex.Pixels) != 13*11*3 {
					t.Errorf("%s: %d pixel bytes, want %d", ex.Name, len(ex.Pixels), 13*11*3)
				}
				checkExample(t, ex, Cat, ex.Name, images[ex.Name], opt)
			}
		})
	}
}

// An image whose bytes were taken before with the same class (Seen) goes
// to done/ untaken; with the other class it is taken again: a correction.
func TestDuplicate(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	opt.Seen = rec.seen
	r := start(t, opt, rec.take, nil)
	data := makeJPEG(t, 40, 40, 9)
	writeFile(t, filepath.Join(dir, Cat, "first.jpg"), data)
	testwait.For(t, "first.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "first.jpg")) })
	writeFile(t, filepath.Join(dir, Cat, "again.jpg"), data)
	testwait.For(t, "again.jpg moved", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "again.jpg")) })
	if got := rec.names(); !slices.Equal(got, []string{"cat/first.jpg"}) {
		t.Errorf("took %v, want only the first", got)
	}
	statsSettle(t, r.in, Stats{Taken: 1, Duplicates: 1})
	// The user corrects the label: the same image, now in noncat/.
	if err := os.Rename(filepath.Join(dir, DoneDir, Cat, "first.jpg"), filepath.Join(dir, NonCat, "first.jpg")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "first.jpg taken again", func() bool { return len(rec.names()) == 2 })
	if got := rec.names(); !slices.Equal(got, []string{"cat/first.jpg", "noncat/first.jpg"}) {
		t.Errorf("took %v, want the correction too", got)
	}
}

// statsSettle checks that in's counts come to want. A file is in done/
// or rejected/ a moment before the inbox forgets it (Pending drops once
// the move is done), so a test that waited for the file waits for the
// counts too.
func statsSettle(t *testing.T, in *Inbox, want Stats) {
	t.Helper()
	if !testwait.Until(testwait.Patience, func() bool { return in.Stats() == want }) {
		t.Errorf("Stats = %+v, want %+v", in.Stats(), want)
	}
}

// When take fails, the file stays and is retried, then taken.
func TestTakeError(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	path := filepath.Join(dir, Cat, "retry.jpg")
	var stillThere []bool
	var times []time.Time
	rec.fail = func(n int, ex Example) error {
		stillThere = append(stillThere, exists(path))
		times = append(times, time.Now())
		if n <= 2 {
			return errors.New("disk full")
		}
		return nil
	}
	r := start(t, opt, rec.take, func(in *Inbox) { in.retryMin = 40 * time.Millisecond })
	data := makeJPEG(t, 30, 20, 4)
	writeFile(t, path, data)
	testwait.For(t, "the first failure", func() bool { return rec.calls() >= 1 })
	if s := r.in.Stats(); s.Pending != 1 || s.Taken != 0 {
		t.Errorf("after a failure Stats = %+v, want 1 pending", s)
	}
	testwait.For(t, "retry.jpg in done/", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "retry.jpg")) })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := rec.calls(); n != 3 {
		t.Fatalf("take called %d times, want 3", n)
	}
	if !slices.Equal(stillThere, []bool{true, true, true}) {
		t.Errorf("file in cat/ at each call: %v", stillThere)
	}
	// The waits double: 40 ms, then 80 ms.
	if d1, d2 := times[1].Sub(times[0]), times[2].Sub(times[1]); d1 < 40*time.Millisecond || d2 < 80*time.Millisecond {
		t.Errorf("retried after %v and %v, want at least 40 ms and 80 ms", d1, d2)
	}
	got := rec.examples()
	if len(got) != 1 {
		t.Fatalf("%d examples kept", len(got))
	}
	checkExample(t, got[0], Cat, "retry.jpg", data, opt)
	if s := r.in.Stats(); s != (Stats{Taken: 1}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestNameClash(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	if _, err := New(opt); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, DoneDir, Cat, "a.jpg"), []byte("old a"))
	writeFile(t, filepath.Join(dir, DoneDir, Cat, "a-1.jpg"), []byte("old a-1"))
	writeFile(t, filepath.Join(dir, RejectedDir, "bad.jpg.txt"), []byte("an old reason"))
	rec := newRecorder()
	start(t, opt, rec.take, nil)
	data := makeJPEG(t, 20, 20, 6)
	writeFile(t, filepath.Join(dir, Cat, "a.jpg"), data)
	writeFile(t, filepath.Join(dir, Cat, "bad.jpg"), []byte("not an image"))
	testwait.For(t, "a-2.jpg", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "a-2.jpg")) })
	testwait.For(t, "bad-1.jpg.txt", func() bool { return exists(filepath.Join(dir, RejectedDir, "bad-1.jpg.txt")) })
	for name, want := range map[string]string{"a.jpg": "old a", "a-1.jpg": "old a-1", "a-2.jpg": string(data)} {
		if got, err := os.ReadFile(filepath.Join(dir, DoneDir, Cat, name)); err != nil || string(got) != want {
			t.Errorf("done/%s: %q, %v", name, got, err)
		}
	}
	checkRejected(t, dir, "bad-1.jpg", "not a JPEG or PNG image")
	if got, _ := os.ReadFile(filepath.Join(dir, RejectedDir, "bad.jpg.txt")); string(got) != "an old reason" {
		t.Errorf("the old reason was overwritten: %q", got)
	}
}

func TestNumbered(t *testing.T) {
	long := strings.Repeat("é", 130) + ".jpg" // 264 bytes
	tests := []struct {
		name  string
		i     int
		limit int
		want  string
	}{
		{"a.jpg", 0, 255, "a.jpg"},
		{"a.jpg", 1, 255, "a-1.jpg"},
		{"a.tar.gz", 12, 255, "a.tar-12.gz"},
		{"noext", 3, 255, "noext-3"},
		{"abcdef.jpg", 2, 8, "ab-2.jpg"},
		{long, 0, 251, strings.Repeat("é", 123) + ".jpg"},
		{long, 7, 251, strings.Repeat("é", 122) + "-7.jpg"},
	}
	for _, tt := range tests {
		if got := numbered(tt.name, tt.i, tt.limit); got != tt.want {
			t.Errorf("numbered(%q, %d, %d) = %q, want %q", tt.name, tt.i, tt.limit, got, tt.want)
		}
	}
}

func FuzzNumbered(f *testing.F) {
	f.Add("a.jpg", 3)
	f.Add(strings.Repeat("x", 300)+".png", 12)
	f.Add("é.é", 0)
	f.Fuzz(func(t *testing.T, name string, i int) {
		if i < 0 || i > 1_000_000 || !utf8.ValidString(name) {
			return
		}
		got := numbered(name, i, 251)
		if len(got) > 251 {
			t.Errorf("numbered(%q, %d) = %q, %d bytes", name, i, got, len(got))
		}
		if !utf8.ValidString(got) {
			t.Errorf("numbered(%q, %d) = %q, not UTF-8", name, i, got)
		}
		if len(name) <= 240 && i == 0 && got != name {
			t.Errorf("numbered(%q, 0) = %q", name, got)
		}
	})
}

// A new Inbox on the same folder takes what is new, not what is in done/;
// an image left in cat/ by a crash after take is moved, not taken again.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	store := newRecorder() // the replay buffer, persisted across restarts
	opt.Seen = store.seen

	r1 := start(t, opt, store.take, nil)
	a := makeJPEG(t, 24, 24, 1)
	writeFile(t, filepath.Join(dir, Cat, "a.jpg"), a)
	testwait.For(t, "a.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "a.jpg")) })
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}

	// catd stored c.jpg, then died before moving it.
	c := makeJPEG(t, 24, 24, 3)
	writeFile(t, filepath.Join(dir, NonCat, "c.jpg"), c)
	if err := store.take(Example{Class: NonCat, Name: "c.jpg", Hash: sha256.Sum256(c)}); err != nil {
		t.Fatal(err)
	}

	r2 := start(t, opt, store.take, nil)
	b := makeJPEG(t, 24, 24, 2)
	writeFile(t, filepath.Join(dir, Cat, "b.jpg"), b)
	testwait.For(t, "b.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "b.jpg")) })
	testwait.For(t, "c.jpg moved", func() bool { return exists(filepath.Join(dir, DoneDir, NonCat, "c.jpg")) })
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if got := store.names(); !slices.Equal(got, []string{"cat/a.jpg", "noncat/c.jpg", "cat/b.jpg"}) {
		t.Errorf("taken over both runs: %v", got)
	}
	statsSettle(t, r2.in, Stats{Taken: 1, Duplicates: 1})
	if got := doneFiles(t, dir); !slices.Equal(got, []string{"cat/a.jpg", "cat/b.jpg", "noncat/c.jpg"}) {
		t.Errorf("done/ holds %v", got)
	}
}

// Without fsnotify, the folders are polled.
func TestPolling(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	opt.Rescan = 50 * time.Millisecond
	rec := newRecorder()
	before := runtime.NumGoroutine()
	r := start(t, opt, rec.take, func(in *Inbox) {
		in.newWatcher = func() (*fsnotify.Watcher, error) { return nil, errors.New("no inotify instances left") }
	})
	data := makePNG(t, 20, 20, 1)
	writeSlowly(t, filepath.Join(dir, NonCat, "p.png"), data, 3, 20*time.Millisecond)
	testwait.For(t, "p.png taken", func() bool { return exists(filepath.Join(dir, DoneDir, NonCat, "p.png")) })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	goroutinesSettle(t, before)
	got := rec.examples()
	if len(got) != 1 {
		t.Fatalf("took %d", len(got))
	}
	checkExample(t, got[0], NonCat, "p.png", data, opt)
}

// A class folder removed while Run runs is made again and watched.
func TestClassFolderRemoved(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	start(t, opt, rec.take, nil)
	// Real time: nothing outside says when Run has set its watches up.
	time.Sleep(50 * time.Millisecond)
	if err := os.RemoveAll(filepath.Join(dir, Cat)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "cat/ made again", func() bool { return exists(filepath.Join(dir, Cat)) })
	time.Sleep(50 * time.Millisecond) // and watched again (as above, nothing says when)
	data := makeJPEG(t, 16, 16, 1)
	writeFile(t, filepath.Join(dir, Cat, "back.jpg"), data)
	testwait.For(t, "back.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "back.jpg")) })
	// done/ removed: made again when needed.
	if err := os.RemoveAll(filepath.Join(dir, DoneDir)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, Cat, "next.jpg"), makeJPEG(t, 16, 16, 2))
	testwait.For(t, "next.jpg taken", func() bool { return exists(filepath.Join(dir, DoneDir, Cat, "next.jpg")) })
}

// Run returns promptly when ctx ends, leaving no goroutine behind.
func TestCancel(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, dir string)
	}{
		{"idle", nil},
		{"while a file settles", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, Cat, "settling.jpg"), makeJPEG(t, 16, 16, 1))
		}},
		{"while a file waits to be rejected", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, Cat, "bad.jpg"), []byte("bad"))
			// Real time, past the settle time, so that the file is noticed
			// and waiting when Run is cancelled.
			time.Sleep(150 * time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			dir := t.TempDir()
			opt := testOptions(t, dir)
			rec := newRecorder()
			r := start(t, opt, rec.take, nil)
			time.Sleep(20 * time.Millisecond) // a head start for Run; cancelling earlier must work too
			if tt.act != nil {
				tt.act(t, dir)
			}
			if err := r.stop(); err != nil { // fails after 1 s
				t.Fatal(err)
			}
			goroutinesSettle(t, before)
		})
	}
	t.Run("cancelled beforehand", func(t *testing.T) {
		in, err := New(testOptions(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := in.Run(ctx, func(Example) error { t.Error("take called"); return nil }); err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// Run can run again once it returned; not twice at once.
func TestRunAgain(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	in, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx, rec.take) }()
		name := []string{"one.jpg", "two.jpg"}[i]
		writeFile(t, filepath.Join(dir, Cat, name), makeJPEG(t, 16, 16, i))
		testwait.For(t, name, func() bool { return exists(filepath.Join(dir, DoneDir, Cat, name)) })
		if i == 0 {
			func() {
				defer func() {
					if recover() == nil {
						t.Error("a second Run at once did not panic")
					}
				}()
				in.Run(ctx, rec.take)
			}()
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.names(); !slices.Equal(got, []string{"cat/one.jpg", "cat/two.jpg"}) {
		t.Errorf("took %v", got)
	}
}

// The class folders are group-writable (as far as the umask allows), so
// that the users of catd's group can drop labels; the others are not.
func TestFolderModes(t *testing.T) {
	old := syscall.Umask(0o007)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "labels")
	if _, err := New(testOptions(t, dir)); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]os.FileMode{Cat: 0o770, NonCat: 0o770, DoneDir: 0o750, RejectedDir: 0o750,
		DoneDir + "/" + Cat: 0o750} {
		st, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", sub, got, want)
		}
	}
}
