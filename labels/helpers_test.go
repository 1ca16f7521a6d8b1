package labels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/dataset"
	"catd/preprocess"

	"catd/internal/testwait"
)

// testOptions are Options with short times, for an Inbox in dir.
func testOptions(t testing.TB, dir string) Options {
	return Options{
		Dir:         dir,
		W:           16,
		H:           12,
		Settle:      50 * time.Millisecond,
		RejectAfter: 300 * time.Millisecond,
		Log:         zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
	}
}

// recorder is a take that keeps what it is given; fail, if set, decides
// per call whether take fails.
type recorder struct {
	mu   sync.Mutex
	got  []Example
	hash map[[32]byte]string // what a replay buffer would persist: the class of each image
	fail func(n int, ex Example) error
	n    int
}

func newRecorder() *recorder { return &recorder{hash: make(map[[32]byte]string)} }

func (r *recorder) take(ex Example) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail != nil {
		if err := r.fail(r.n, ex); err != nil {
			return err
		}
	}
	r.got = append(r.got, ex)
	r.hash[ex.Hash] = ex.Class
	return nil
}

// seen is Options.Seen backed by what was taken.
func (r *recorder) seen(h [32]byte, class string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hash[h] == class
}

func (r *recorder) examples() []Example {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// names returns "class/name" of each example taken, in order.
func (r *recorder) names() []string {
	var s []string
	for _, ex := range r.examples() {
		s = append(s, ex.Class+"/"+ex.Name)
	}
	return s
}

// running is an Inbox whose Run runs in a goroutine.
type running struct {
	in     *Inbox
	dir    string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start makes an Inbox with opt (adjusted by adjust, if not nil, before Run)
// and runs it with take; the test's cleanup stops it.
func start(t *testing.T, opt Options, take func(Example) error, adjust func(*Inbox)) *running {
	t.Helper()
	in, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, dir: opt.Dir, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, take) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// stop cancels Run and waits for it, failing if it does not return.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				r.err = errors.New("Run returned " + err.Error())
			}
		case <-time.After(10 * time.Second):
			// Generous: Run returns at once, but closing the watch waits
			// for fsnotify's goroutine, which a loaded machine may not
			// schedule for a second or more. A Run that ignores the cancel
			// still fails here.
			r.err = errors.New("Run did not return within 10 s of cancel")
		}
	})
	return r.err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// doneFiles lists done/cat/ and done/noncat/ as "cat/NAME" and
// "noncat/NAME", sorted.
func doneFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, c := range []string{Cat, NonCat} {
		for _, n := range listDir(t, filepath.Join(dir, DoneDir, c)) {
			names = append(names, c+"/"+n)
		}
	}
	return names
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSlowly writes data to path in n chunks with pause between them.
func writeSlowly(t *testing.T, path string, data []byte, n int, pause time.Duration) {
	t.Helper()
	var chunks [][]byte
	step := (len(data) + n - 1) / n
	for i := 0; i < len(data); i += step {
		chunks = append(chunks, data[i:min(i+step, len(data))])
	}
	writeChunks(t, path, pause, chunks...)
}

// writeChunks writes the chunks to path with pause between them.
func writeChunks(t *testing.T, path string, pause time.Duration, chunks ...[]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, c := range chunks {
		if i > 0 {
			// Real time: the pause between chunks is what the Inbox must sit out.
			time.Sleep(pause)
		}
		if _, err := f.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// testImage is a w×h image with colour gradients that depend on seed.
func testImage(w, h, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(x*255/max(w-1, 1) + seed*37),
				G: uint8(y*255/max(h-1, 1) + seed*11),
				B: uint8((x+y)*7 + seed*91),
				A: 255,
			})
		}
	}
	return img
}

func makeJPEG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeGrayJPEG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	src := testImage(w, h, seed)
	g := image.NewGray(src.Bounds())
	for y := range h {
		for x := range w {
			g.Set(x, y, src.At(x, y))
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, g, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makePNG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := testImage(w, h, seed)
	for i := 3; i < len(img.Pix); i += 4 * 7 {
		img.Pix[i] = uint8(i) // some transparency
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makePalettedPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{200, 30, 40, 255}, color.RGBA{10, 150, 250, 255}}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7/3) % 4
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a small PNG whose header declares a w×h image.
func hugePNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	data := makePNG(t, 2, 2, 0)
	if string(data[12:16]) != "IHDR" {
		t.Fatal("no IHDR where expected")
	}
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// hugeJPEG is a small JPEG whose frame header declares a w×h image.
func hugeJPEG(t testing.TB, w, h uint16) []byte {
	t.Helper()
	data := makeJPEG(t, 8, 8, 0)
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(data[i+5:], h)
	binary.BigEndian.PutUint16(data[i+7:], w)
	return data
}

// reference is what the daemon's path gives for data: dataset.DecodeImage,
// then a Resizer's Image.
func reference(t testing.TB, data []byte, w, h int, opt preprocess.Options) []uint8 {
	t.Helper()
	img, err := dataset.DecodeImage(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint8, w*h*3)
	if err := preprocess.NewResizer(w, h, opt).Image(out, img); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExample checks ex against the file contents data.
func checkExample(t *testing.T, ex Example, class, name string, data []byte, opt Options) {
	t.Helper()
	if ex.Class != class || ex.Name != name {
		t.Errorf("took %s/%s, want %s/%s", ex.Class, ex.Name, class, name)
	}
	if ex.Hash != sha256.Sum256(data) {
		t.Errorf("%s: hash is not the SHA-256 of the file", name)
	}
	if want := reference(t, data, opt.W, opt.H, opt.Resize); !bytes.Equal(ex.Pixels, want) {
		t.Errorf("%s: pixels differ from preprocess.Resizer.Image of the decoded file", name)
	}
}

// checkRejected checks that name sits in rejected/ with a reason file
// containing want, and returns the reason line.
func checkRejected(t *testing.T, dir, name, want string) string {
	t.Helper()
	txt, err := os.ReadFile(filepath.Join(dir, RejectedDir, name+".txt"))
	if err != nil {
		t.Fatalf("no reason file: %v", err)
	}
	if !exists(filepath.Join(dir, RejectedDir, name)) {
		t.Errorf("%s is not in rejected/", name)
	}
	line := string(txt)
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Errorf("reason %q is not one line", line)
	}
	stamp, reason, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if ts, err := time.Parse(time.RFC3339, stamp); err != nil || time.Since(ts) > time.Hour || time.Since(ts) < -time.Hour {
		t.Errorf("reason %q does not start with the time (%v)", line, err)
	}
	if !strings.Contains(reason, want) {
		t.Errorf("reason %q does not say %q", reason, want)
	}
	return line
}

// goroutinesSettle waits until no more goroutines run than before.
func goroutinesSettle(t *testing.T, before int) {
	t.Helper()
	testwait.Until(2*time.Second, func() bool { return runtime.NumGoroutine() <= before })
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
