package dataset

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pattern is a w×h test image whose pixels depend on seed.
func pattern(w, h, seed int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x*7 + seed*31), uint8(y*5 + seed*17), uint8((x + y) * seed), 255})
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombPNG is a PNG header (signature and a valid IHDR chunk) declaring a
// w×h RGB image, with no pixel data.
func bombPNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter, no interlace
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)-4))
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// bombJPEG is a small real JPEG whose SOF0 segment is patched to declare
// w×h pixels.
func bombJPEG(t testing.TB, w, h uint16) []byte {
	b := encodeJPEG(t, pattern(16, 16, 1))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in the encoded JPEG")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// corruptJPEG is a JPEG whose tables and entropy-coded data are garbage.
func corruptJPEG(t testing.TB) []byte {
	b := encodeJPEG(t, pattern(32, 32, 2))
	for i := 20; i < len(b)-2; i++ {
		b[i] = 0xff
	}
	return b
}

// solid is a uniformly coloured image.
func solid(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return m
}

// testFiles is a labelled set with good, bad and ignored files.
func testFiles(t testing.TB) map[string][]byte {
	gray := image.NewGray(image.Rect(0, 0, 70, 50))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	png64 := encodePNG(t, pattern(64, 64, 3))
	return map[string][]byte{
		"cat/n02123045_1.JPEG":       encodeJPEG(t, pattern(80, 60, 1)),
		"cat/n02123045_2.JPEG":       encodeJPEG(t, gray),
		"cat/fluffy.png":             encodePNG(t, solid(50, 70, color.NRGBA{200, 100, 50, 255})),
		"cat/sub/n02124075_3.png":    encodePNG(t, pattern(30, 90, 4)),
		"cat/empty.png":              {},
		"cat/bomb.png":               bombPNG(30000, 30000),
		"cat/bomb.jpg":               bombJPEG(t, 30000, 30000),
		"noncat/n01443537_1.JPEG":    encodeJPEG(t, pattern(64, 64, 5)),
		"noncat/n01443537_2.jpg":     png64, // a PNG named .jpg: judged by content
		"noncat/dog.png":             encodeJPEG(t, pattern(100, 40, 6)),
		"noncat/corrupt.jpg":         corruptJPEG(t),
		"noncat/trunc.png":           png64[:len(png64)/2],
		"noncat/x.jpg":               []byte("hello, I am not an image\n"),
		"bigcat_excluded/n0212_0.JP": encodeJPEG(t, pattern(64, 64, 7)),
		"bigcat_excluded/n0212_1.JP": encodeJPEG(t, pattern(64, 64, 8)),
		"README.txt":                 []byte("a labelled set\n"),
	}
}

// wantSkipped are the reasons the bad files of testFiles are skipped for.
var wantSkipped = map[string]string{
	"README.txt":         "outside the cat/ and noncat/ folders",
	"cat/bomb.jpg":       "JPEG of 30000x30000 = 900000000 pixels is over the limit of 40000000 pixels",
	"cat/bomb.png":       "PNG of 30000x30000 = 900000000 pixels is over the limit of 40000000 pixels",
	"cat/empty.png":      "empty file: not a JPEG or PNG image",
	"noncat/corrupt.jpg": "decode JPEG",
	"noncat/trunc.png":   "decode PNG: png: invalid format: not enough pixel data",
	"noncat/x.jpg":       "not a JPEG or PNG image",
}

func writeTree(t testing.TB, root string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTar writes files into a tar under prefix, in reverse name order
// (not sorted, to show the order does not matter), with directory entries
// if dirs.
func writeTar(t testing.TB, tarPath, prefix string, files map[string][]byte, dirs bool) {
	t.Helper()
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			yield(k)
		}
	})
	slices.Reverse(names)
	seen := map[string]bool{}
	for _, name := range names {
		full := prefix + name
		if dirs {
			for d := filepath.ToSlash(filepath.Dir(full)); d != "." && !seen[d]; d = filepath.ToSlash(filepath.Dir(d)) {
				seen[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
					t.Fatal(err)
				}
			}
		}
		data := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: full, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// rel strips root from the paths of s and rep, for comparing loads of the
// same set from different places.
func rel(t *testing.T, root string, s *Set, rep Report) ([]string, map[string]string) {
	t.Helper()
	strip := func(p string) string {
		r, ok := strings.CutPrefix(p, root+string(filepath.Separator))
		if !ok {
			t.Errorf("path %s is not under %s", p, root)
		}
		return filepath.ToSlash(r)
	}
	var paths []string
	for _, p := range s.Paths {
		paths = append(paths, strip(p))
	}
	skipped := map[string]string{}
	for _, sk := range rep.Skipped {
		skipped[strip(sk.Path)] = sk.Reason
	}
	return paths, skipped
}

var opt64 = Options{W: 64, H: 64}

func TestLoadLayouts(t *testing.T) {
	dir := t.TempDir()
	files := testFiles(t)
	writeTree(t, filepath.Join(dir, "set"), files)
	writeTar(t, filepath.Join(dir, "set.tar"), "", files, true)
	writeTar(t, filepath.Join(dir, "nodirs.tar"), "./", files, false)
	writeTar(t, filepath.Join(dir, "nested.tar"), "data/train/", files, true)

	wantPaths := []string{
		"cat/fluffy.png", "cat/n02123045_1.JPEG", "cat/n02123045_2.JPEG", "cat/sub/n02124075_3.png",
		"noncat/dog.png", "noncat/n01443537_1.JPEG", "noncat/n01443537_2.jpg",
	}
	wantClasses := []string{"cat", "n02123045", "n02123045", "n02124075", "noncat", "n01443537", "n01443537"}
	wantLabels := []bool{true, true, true, true, false, false, false}

	ref, _, err := Load(filepath.Join(dir, "set"), opt64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, root string
		workers          int
	}{
		{"folder", "set", "set", 0},
		{"folder/1worker", "set", "set", 1},
		{"folder/5workers", "set", "set", 5},
		{"tar", "set.tar", "set.tar", 0},
		{"tar/1worker", "set.tar", "set.tar", 1},
		{"tar/nodirs", "nodirs.tar", "nodirs.tar", 3},
		{"tar/inside", "nested.tar/data/train", "nested.tar/data/train", 0},
		{"tar/inside/trailing-slash", "nested.tar/data/train/", "nested.tar/data/train", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opt64
			o.Workers = tc.workers
			s, rep, err := Load(filepath.Join(dir, tc.path), o)
			if err != nil {
				t.Fatal(err)
			}
			paths, skipped := rel(t, filepath.Join(dir, tc.root), s, rep)
			if !slices.Equal(paths, wantPaths) {
				t.Errorf("paths\n%q\nwant\n%q", paths, wantPaths)
			}
			if !slices.Equal(s.Classes, wantClasses) {
				t.Errorf("classes %q, want %q", s.Classes, wantClasses)
			}
			if !slices.Equal(s.Labels, wantLabels) {
				t.Errorf("labels %v, want %v", s.Labels, wantLabels)
			}
			if s.W != 64 || s.H != 64 || len(s.Pixels) != 7*64*64*3 || s.Len() != 7 || s.NumCat() != 4 {
				t.Errorf("W, H, len(Pixels), Len, NumCat = %d, %d, %d, %d, %d", s.W, s.H, len(s.Pixels), s.Len(), s.NumCat())
			}
			if !bytes.Equal(s.Pixels, ref.Pixels) {
				t.Error("pixels differ from the folder's")
			}
			// fluffy.png is solid colour: every pixel survives the resize.
			for i, v := range s.Image(0) {
				if want := []uint8{200, 100, 50}[i%3]; v != want {
					t.Fatalf("cat/fluffy.png byte %d = %d, want %d", i, v, want)
				}
			}
			if want := map[string]int{"cat": 4, "noncat": 3}; !reflect.DeepEqual(rep.Loaded, want) {
				t.Errorf("Loaded %v, want %v", rep.Loaded, want)
			}
			if want := map[string]int{"bigcat_excluded": 2}; !reflect.DeepEqual(rep.Ignored, want) {
				t.Errorf("Ignored %v, want %v", rep.Ignored, want)
			}
			for name, reason := range wantSkipped {
				if got, ok := skipped[name]; !ok {
					t.Errorf("%s not skipped", name)
				} else if !strings.Contains(got, reason) {
					t.Errorf("%s skipped for %q, want %q", name, got, reason)
				}
			}
			if len(skipped) != len(wantSkipped) {
				t.Errorf("skipped %v, want %d files", skipped, len(wantSkipped))
			}
			if !slices.IsSortedFunc(rep.Skipped, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) }) {
				t.Error("Skipped not sorted by path")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "nolabels"), map[string][]byte{
		"cats/a.png": encodePNG(t, pattern(8, 8, 1)),
		"dogs/b.png": encodePNG(t, pattern(8, 8, 2)),
	})
	writeTree(t, filepath.Join(dir, "allbad"), map[string][]byte{
		"cat/a.jpg":    []byte("nope"),
		"noncat/b.png": nil,
	})
	writeTar(t, filepath.Join(dir, "set.tar"), "train/", map[string][]byte{"cat/a.png": encodePNG(t, pattern(8, 8, 1))}, true)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "junk.tar"), bytes.Repeat([]byte("junk"), 300), 0o644)
	os.MkdirAll(filepath.Join(dir, "empty", "cat"), 0o755)

	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"missing", "nothere", []string{"nothere", "no such file"}},
		{"missing-below-folder", "nolabels/x/y", []string{"nolabels/x/y", "no such file"}},
		{"no-label-folders", "nolabels", []string{"nolabels has no cat/ or noncat/ folder (found cats/, dogs/)"}},
		{"all-bad", "allbad", []string{"allbad: no images loaded (2 files skipped", "allbad/cat/a.jpg"}},
		{"empty-label-folder", "empty", []string{"empty: no images loaded"}},
		{"not-a-folder", "notes.txt", []string{"notes.txt is neither a folder nor a .tar file"}},
		{"not-a-tar", "junk.tar", []string{"junk.tar: not a readable tar file"}},
		{"missing-inside-tar", "set.tar/val", []string{"set.tar/val: no val/ inside", "set.tar"}},
		{"tar-without-labels", "set.tar", []string{"set.tar has no cat/ or noncat/ folder (found train/)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := Load(filepath.Join(dir, filepath.FromSlash(tc.path)), opt64)
			if err == nil {
				t.Fatalf("loaded %d images, want an error", s.Len())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), filepath.FromSlash(w)) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
}

func TestLoadMaxFileBytes(t *testing.T) {
	dir := t.TempDir()
	small := encodePNG(t, solid(8, 8, color.NRGBA{1, 2, 3, 255}))
	files := map[string][]byte{
		"cat/small.png":  small,
		"cat/big.png":    encodePNG(t, pattern(200, 200, 1)),
		"noncat/big.jpg": encodeJPEG(t, pattern(200, 200, 2)),
	}
	writeTree(t, filepath.Join(dir, "set"), files)
	writeTar(t, filepath.Join(dir, "set.tar"), "", files, true)
	for _, p := range []string{"set", "set.tar"} {
		t.Run(p, func(t *testing.T) {
			o := opt64
			o.MaxFileBytes = int64(len(small))
			s, rep, err := Load(filepath.Join(dir, p), o)
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != 1 || len(rep.Skipped) != 2 {
				t.Fatalf("loaded %d, skipped %v; want 1 and 2", s.Len(), rep.Skipped)
			}
			for _, sk := range rep.Skipped {
				if !strings.Contains(sk.Reason, "over the limit of") || !strings.Contains(sk.Path, "big") {
					t.Errorf("skipped %v", sk)
				}
			}
		})
	}
}

func TestLoadMaxPixels(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{
		"cat/a.png": encodePNG(t, pattern(100, 100, 1)),
		"cat/b.png": encodePNG(t, pattern(100, 101, 1)),
	})
	s, rep, err := Load(dir, Options{W: 8, H: 8, MaxPixels: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].String(), "b.png: PNG of 100x101 = 10100 pixels is over the limit of 10000 pixels") {
		t.Errorf("loaded %d, skipped %v", s.Len(), rep.Skipped)
	}
}

// bigSet writes a set of nc cats and nn non-cats of 8×8 PNGs.
func bigSet(t *testing.T, nc, nn int) string {
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := range nc {
		files["cat/n0212_"+itoa(i)+".png"] = encodePNG(t, pattern(8, 8, i))
	}
	for i := range nn {
		files["noncat/n0199_"+itoa(i)+".png"] = encodePNG(t, pattern(8, 8, 1000+i))
	}
	writeTree(t, dir, files)
	return dir
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func TestLimit(t *testing.T) {
	dir := bigSet(t, 10, 30)
	o := Options{W: 8, H: 8}
	all, _, err := Load(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, cats, noncats int }{
		{0, 10, 30}, {1, 1, 1}, {3, 3, 3}, {10, 10, 10}, {20, 10, 20}, {100, 10, 30},
	} {
		t.Run(itoa(tc.limit), func(t *testing.T) {
			o.Limit = tc.limit
			s, rep, err := Load(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			if s.NumCat() != tc.cats || s.Len()-s.NumCat() != tc.noncats {
				t.Errorf("%d cats, %d non-cats; want %d, %d", s.NumCat(), s.Len()-s.NumCat(), tc.cats, tc.noncats)
			}
			if rep.Loaded["cat"] != tc.cats || rep.Loaded["noncat"] != tc.noncats {
				t.Errorf("Loaded %v", rep.Loaded)
			}
			again, _, _ := Load(dir, o)
			if !reflect.DeepEqual(s, again) {
				t.Error("two loads differ")
			}
			if !slices.IsSorted(s.Paths) {
				t.Error("paths not sorted")
			}
			for i, p := range s.Paths {
				j := slices.Index(all.Paths, p)
				if j < 0 || !bytes.Equal(s.Image(i), all.Image(j)) || s.Labels[i] != all.Labels[j] {
					t.Errorf("%s differs from the full load", p)
				}
			}
		})
	}
}

func TestSplit(t *testing.T) {
	s, _, err := Load(bigSet(t, 10, 31), Options{W: 8, H: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		frac          float64
		seed          uint64
		acat, anoncat int
	}{
		{0.8, 1, 8, 25}, {0.8, 2, 8, 25}, {0.5, 1, 5, 16}, {0, 1, 0, 0}, {1, 1, 10, 31}, {0.04, 7, 0, 1},
	} {
		a, b := s.Split(tc.frac, tc.seed)
		if a.NumCat() != tc.acat || a.Len()-a.NumCat() != tc.anoncat || a.Len()+b.Len() != s.Len() || b.NumCat() != 10-tc.acat {
			t.Errorf("Split(%v, %d): a has %d cats of %d, b %d of %d", tc.frac, tc.seed, a.NumCat(), a.Len(), b.NumCat(), b.Len())
		}
		union := slices.Concat(a.Paths, b.Paths)
		slices.Sort(union)
		if !slices.Equal(union, s.Paths) {
			t.Errorf("Split(%v, %d): parts are not a partition", tc.frac, tc.seed)
		}
		for _, part := range []*Set{a, b} {
			if !slices.IsSorted(part.Paths) {
				t.Errorf("Split(%v, %d): a part is not in order", tc.frac, tc.seed)
			}
			for i, p := range part.Paths {
				j := slices.Index(s.Paths, p)
				if !bytes.Equal(part.Image(i), s.Image(j)) || part.Classes[i] != s.Classes[j] || part.Labels[i] != s.Labels[j] {
					t.Errorf("%s differs from the original", p)
				}
			}
		}
		a2, b2 := s.Split(tc.frac, tc.seed)
		if !reflect.DeepEqual(a, a2) || !reflect.DeepEqual(b, b2) {
			t.Errorf("Split(%v, %d) is not deterministic", tc.frac, tc.seed)
		}
	}
	a1, _ := s.Split(0.5, 1)
	a2, _ := s.Split(0.5, 2)
	if slices.Equal(a1.Paths, a2.Paths) {
		t.Error("seeds 1 and 2 give the same split")
	}
	// The split is fixed forever: a changed shuffle would silently move
	// validation images into training between versions.
	a3, _ := s.Split(0.1, 42)
	var got []string
	for _, p := range a3.Paths {
		got = append(got, filepath.Base(p))
	}
	if want := []string{"n0212_ae.png", "n0199_ac.png", "n0199_ag.png", "n0199_aw.png"}; !slices.Equal(got, want) {
		t.Errorf("Split(0.1, 42) = %q, want %q", got, want)
	}
	for _, frac := range []float64{-0.1, 1.1} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "dataset: ") {
					t.Errorf("Split(%v) panicked with %v", frac, r)
				}
			}()
			s.Split(frac, 0)
		}()
	}
}

func TestSubset(t *testing.T) {
	s, _, err := Load(bigSet(t, 2, 3), Options{W: 8, H: 8})
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subset([]int{4, 0, 4})
	if sub.Len() != 3 || sub.Paths[0] != s.Paths[4] || sub.Paths[1] != s.Paths[0] || !bytes.Equal(sub.Image(2), s.Image(4)) || !sub.Labels[1] || sub.Labels[0] {
		t.Errorf("Subset: %v %v", sub.Paths, sub.Labels)
	}
	sub.Pixels[0]++
	if sub.Pixels[0] == s.Image(4)[0] {
		t.Error("Subset aliases the original's pixels")
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"cat/a.png":    encodePNG(t, solid(20, 20, color.NRGBA{10, 20, 30, 255})),
		"noncat/b.jpg": encodeJPEG(t, pattern(64, 64, 1)),
		"noncat/c.txt": []byte("text"),
	}
	writeTree(t, dir, files)
	writeTar(t, filepath.Join(dir, "set.tar"), "val/", files, true)
	j := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	paths := []string{
		j("noncat/b.jpg"), j("set.tar/val/cat/a.png"), j("missing.png"), j("cat/a.png"),
		j("noncat/c.txt"), j("set.tar/val/noncat/b.jpg"), j("set.tar/val/nope.png"), j("noncat"),
		j("noncat/b.jpg"),
	}
	s, rep, err := LoadFiles(paths, opt64)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{paths[0], paths[1], paths[3], paths[5], paths[8]}
	if !slices.Equal(s.Paths, want) {
		t.Errorf("paths\n%q\nwant\n%q", s.Paths, want)
	}
	if s.NumCat() != 0 || rep.Loaded["files"] != 5 {
		t.Errorf("NumCat %d, Loaded %v", s.NumCat(), rep.Loaded)
	}
	if !bytes.Equal(s.Image(1), s.Image(2)) || !bytes.Equal(s.Image(0), s.Image(3)) || !bytes.Equal(s.Image(0), s.Image(4)) {
		t.Error("the same image from the tar and the folder differs")
	}
	if want := []string{"noncat", "cat", "cat", "noncat", "noncat"}; !slices.Equal(s.Classes, want) {
		t.Errorf("classes %q, want %q", s.Classes, want)
	}
	wantSkip := map[string]string{
		paths[2]: "no such file", paths[4]: "not a JPEG or PNG", paths[6]: "not found in", paths[7]: "is a folder",
	}
	if len(rep.Skipped) != len(wantSkip) {
		t.Errorf("skipped %v", rep.Skipped)
	}
	for _, sk := range rep.Skipped {
		if !strings.Contains(sk.Reason, wantSkip[sk.Path]) {
			t.Errorf("%s skipped for %q, want %q", sk.Path, sk.Reason, wantSkip[sk.Path])
		}
	}

	if _, _, err := LoadFiles([]string{j("missing.png")}, opt64); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("loading only a missing file: error %v", err)
	}
	if _, _, err := LoadFiles(nil, opt64); err == nil {
		t.Error("loading no files: no error")
	}
}

func TestDecodeImage(t *testing.T) {
	pngData := encodePNG(t, pattern(40, 30, 1))
	jpegData := encodeJPEG(t, pattern(40, 30, 1))
	for _, tc := range []struct {
		name      string
		data      []byte
		maxPixels int
		err       error  // wrapped, if not nil
		msg       string // in the error; "" for success
	}{
		{"png", pngData, 0, nil, ""},
		{"jpeg", jpegData, 0, nil, ""},
		{"png-at-limit", pngData, 1200, nil, ""},
		{"png-over-limit", pngData, 1199, ErrTooLarge, "PNG of 40x30 = 1200 pixels is over the limit of 1199 pixels"},
		{"jpeg-over-limit", jpegData, 1199, ErrTooLarge, "JPEG of 40x30"},
		{"png-bomb", bombPNG(30000, 30000), 0, ErrTooLarge, "30000x30000"},
		{"png-bomb-2^31", bombPNG(1<<31-1, 1<<31-1), 0, nil, "PNG"},
		{"jpeg-bomb", bombJPEG(t, 30000, 30000), 0, ErrTooLarge, "30000x30000"},
		{"jpeg-zero-height", bombJPEG(t, 16, 0), 0, nil, "JPEG"},
		{"empty", nil, 0, ErrNotImage, "empty"},
		{"text", []byte("GIF89a nonsense"), 0, ErrNotImage, "not a JPEG or PNG image"},
		{"png-header-only", pngData[:8], 0, nil, "decode PNG header"},
		{"truncated-png", pngData[:len(pngData)-30], 0, nil, "decode PNG"},
		{"truncated-jpeg", jpegData[:len(jpegData)/2], 0, nil, "decode JPEG"},
		{"corrupt-jpeg", corruptJPEG(t), 0, nil, "decode JPEG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dec := range []struct {
				name string
				f    func([]byte, int) (image.Image, error)
			}{
				{"reader", func(b []byte, n int) (image.Image, error) { return DecodeImage(bytes.NewReader(b), n) }},
				{"onebyte", func(b []byte, n int) (image.Image, error) { return DecodeImage(&oneByteReader{b}, n) }},
				{"bytes", func(b []byte, n int) (image.Image, error) {
					if n <= 0 {
						n = DefaultMaxPixels
					}
					return decodeBytes(b, n)
				}},
			} {
				img, err := dec.f(tc.data, tc.maxPixels)
				switch {
				case tc.msg == "" && err != nil:
					t.Errorf("%s: %v", dec.name, err)
				case tc.msg == "" && img.Bounds() != image.Rect(0, 0, 40, 30):
					t.Errorf("%s: bounds %v", dec.name, img.Bounds())
				case tc.msg != "" && err == nil:
					t.Errorf("%s: no error", dec.name)
				case tc.msg != "" && !strings.Contains(err.Error(), tc.msg):
					t.Errorf("%s: error %q, want %q", dec.name, err, tc.msg)
				case tc.err != nil && !errors.Is(err, tc.err):
					t.Errorf("%s: error %q does not wrap %q", dec.name, err, tc.err)
				}
			}
		})
	}
}

// The errors of DecodeImage never quote the data: a file that is not an
// image may hold anything, and the errors end up in logs and in the label
// folders' rejected/NAME.txt.
func TestDecodeImageQuotesNothing(t *testing.T) {
	for _, data := range []string{"SECRET_TOKEN=hunter2", "hunter2", "\xff\xd8\xffhunter2", "\x89PNG\r\n\x1a\nhunter2"} {
		t.Run(strconv.Quote(data), func(t *testing.T) {
			_, err := DecodeImage(strings.NewReader(data), 0)
			if err == nil {
				t.Fatal("decoded")
			}
			if msg := err.Error(); strings.Contains(msg, "hunter") || strings.Contains(msg, "SECRET") {
				t.Errorf("error %q quotes the data", msg)
			}
		})
	}
}

// oneByteReader returns one byte a Read, the worst case for DecodeImage's
// replay of the header.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// sharedTar is the project's development data, absent on users' machines.
const sharedTar = "../../shared/data/tinyimagenet-cat64.tar"

func TestSharedTar(t *testing.T) {
	if _, err := os.Stat(sharedTar); err != nil {
		t.Skip("../shared/data not present")
	}
	if testing.Short() {
		t.Skip("loads 31,200 images; skipped with -short")
	}
	for _, tc := range []struct {
		split        string
		cats, noncat int
		bigcats      int
	}{
		{"train", 1500, 19700, 1000},
		{"val", 150, 9850, 100},
	} {
		t.Run(tc.split, func(t *testing.T) {
			start := time.Now()
			s, rep, err := Load(sharedTar+"/"+tc.split, opt64)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("loaded %s: %d images in %v", tc.split, s.Len(), time.Since(start).Round(time.Millisecond))
			if s.NumCat() != tc.cats || s.Len()-s.NumCat() != tc.noncat {
				t.Errorf("%d cats and %d non-cats, want %d and %d", s.NumCat(), s.Len()-s.NumCat(), tc.cats, tc.noncat)
			}
			if want := map[string]int{"bigcat_excluded": tc.bigcats}; !reflect.DeepEqual(rep.Ignored, want) {
				t.Errorf("Ignored %v, want %v", rep.Ignored, want)
			}
			if len(rep.Skipped) != 0 {
				t.Errorf("skipped %d files, the first %v", len(rep.Skipped), rep.Skipped[0])
			}
			want := filepath.Join(sharedTar, tc.split, "cat", "n02123045_")
			if !strings.HasPrefix(s.Paths[0], want) || s.Classes[0] != "n02123045" {
				t.Errorf("first image %s (class %s), want %s", s.Paths[0], s.Classes[0], want)
			}
			classes := map[string]bool{}
			for _, c := range s.Classes {
				classes[c] = true
			}
			if len(classes) != 200 {
				t.Errorf("%d classes, want 200", len(classes))
			}
		})
	}
}

func BenchmarkLoadSharedTrain(b *testing.B) {
	if _, err := os.Stat(sharedTar); err != nil {
		b.Skip("../shared/data not present")
	}
	b.ReportAllocs()
	for b.Loop() {
		s, _, err := Load(sharedTar+"/train", opt64)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(s.Len()), "images/op")
	}
}
