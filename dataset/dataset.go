// Package dataset loads labelled image sets into memory as compact 8-bit
// tensors, the way training and evaluation use them.
//
// A labelled set is a folder with one subfolder per label: cat/ holds
// images that contain a cat (label true) and noncat/ images that do not
// (label false). Any other subfolder (such as bigcat_excluded/) is counted
// in the Report and skipped. The folder may also be a .tar file, read in
// place, and a folder inside a tar is addressed by continuing the path past
// the tar file: "data/tinyimagenet-cat64.tar/train" is train/ inside the
// tar.
//
// Images are JPEG or PNG of any size, recognised by their content, not
// their file names. Each is decoded (after checking its header against a
// pixel limit), resized by package preprocess to the model's W×H and stored
// as interleaved 8-bit RGB: a Set's Pixels are N×H×W×3 (NHWC), normalised
// to float later by model.Info.NormalizePixels. A file that cannot be used
// is reported in Report.Skipped with the reason and never stops a load.
//
// Loading is deterministic: images are ordered by path (so cat/ comes
// before noncat/), whatever the number of workers or the order in which
// the file system or the tar lists them.
package dataset

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
)

const (
	// DefaultMaxPixels is the default limit on an image's declared size,
	// in pixels (40 megapixels).
	DefaultMaxPixels = 40_000_000
	// DefaultMaxFileBytes is the default limit on an image file's size, in
	// bytes (64 MiB).
	DefaultMaxFileBytes = 64 << 20

	// CatDir and NonCatDir are the names of the label folders.
	CatDir    = "cat"
	NonCatDir = "noncat"
)

// Options configure Load and LoadFiles.
type Options struct {
	// W and H are the model's input size in pixels; every image is
	// resized (centre crop, area average) to W×H. Both are required.
	W, H int
	// Workers is how many images are decoded in parallel; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// MaxPixels is the largest image, in pixels, that is decoded; larger
	// ones are skipped before decoding. 0 means DefaultMaxPixels.
	MaxPixels int
	// MaxFileBytes is the largest file, in bytes, that is read; larger
	// ones are skipped. 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
	// Limit, if positive, loads at most this many images per label folder
	// (cat/, noncat/). The choice is a deterministic pseudo-random sample
	// (by a hash of each file's path inside the set), so it spreads over
	// the file names, and is made before decoding: skipped files can
	// leave fewer than Limit.
	Limit int
}

// Set is a labelled set of images held in memory. Image i is
// Pixels[i*H*W*3 : (i+1)*H*W*3], H×W×3 interleaved RGB; Labels[i] is true
// for a cat; Paths[i] is the file it came from (the path given to Load
// joined with the path inside the folder or tar); Classes[i] is its class:
// the file name's prefix before the first '_' (the ImageNet class id
// "n02123045" of Tiny ImageNet's "n02123045_12.JPEG"), or else the name of
// the folder holding it.
type Set struct {
	W, H    int
	Pixels  []uint8
	Labels  []bool
	Paths   []string
	Classes []string
}

// Skipped is a file that was not loaded, and why.
type Skipped struct {
	Path, Reason string
}

// String is "path: reason".
func (s Skipped) String() string { return s.Path + ": " + s.Reason }

// Report says what a load found besides the images it loaded.
type Report struct {
	// Loaded counts the images loaded from each label folder ("cat",
	// "noncat"; "files" for LoadFiles).
	Loaded map[string]int
	// Ignored counts the files in each subfolder that is not a label
	// folder, such as "bigcat_excluded".
	Ignored map[string]int
	// Skipped lists the files that were not loaded, sorted by path.
	Skipped []Skipped
}

// Len is the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// imageLen is the length of one image in bytes.
func (s *Set) imageLen() int { return s.W * s.H * 3 }

// Image returns image i, H×W×3 bytes. It aliases s.Pixels.
func (s *Set) Image(i int) []uint8 {
	n := s.imageLen()
	return s.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// NumCat is the number of images labelled cat.
func (s *Set) NumCat() int {
	n := 0
	for _, l := range s.Labels {
		if l {
			n++
		}
	}
	return n
}

// Subset returns a new Set holding images idx of s, in that order (an
// index may repeat). Its pixels are a copy; Paths and Classes share their
// strings. It panics if an index is out of range.
func (s *Set) Subset(idx []int) *Set {
	n := s.imageLen()
	out := &Set{
		W: s.W, H: s.H,
		Pixels:  make([]uint8, len(idx)*n),
		Labels:  make([]bool, len(idx)),
		Paths:   make([]string, len(idx)),
		Classes: make([]string, len(idx)),
	}
	for k, i := range idx {
		if i < 0 || i >= s.Len() {
			panic(fmt.Sprintf("dataset: Subset index %d out of range [0,%d)", i, s.Len()))
		}
		copy(out.Pixels[k*n:(k+1)*n], s.Image(i))
		out.Labels[k] = s.Labels[i]
		out.Paths[k] = s.Paths[i]
		out.Classes[k] = s.Classes[i]
	}
	return out
}

// Split divides s at random into a, holding a fraction frac of the cats and
// frac of the non-cats (rounded to the nearest image), and b, holding the
// rest. The split depends only on s and seed; both parts keep the order
// of s. It panics unless 0 <= frac <= 1.
func (s *Set) Split(frac float64, seed uint64) (a, b *Set) {
	if !(frac >= 0 && frac <= 1) {
		panic(fmt.Sprintf("dataset: Split fraction %v outside [0,1]", frac))
	}
	var ai, bi []int
	for li, label := range []bool{false, true} {
		var idx []int
		for i, l := range s.Labels {
			if l == label {
				idx = append(idx, i)
			}
		}
		// A Fisher-Yates shuffle on splitmix64, spelled out so the split
		// cannot change with the Go version.
		rng := splitmix{state: seed ^ uint64(li+1)*0x9e3779b97f4a7c15}
		for i := len(idx) - 1; i > 0; i-- {
			j, _ := bits.Mul64(rng.next(), uint64(i+1))
			idx[i], idx[j] = idx[j], idx[i]
		}
		k := int(math.Round(frac * float64(len(idx))))
		ai = append(ai, idx[:k]...)
		bi = append(bi, idx[k:]...)
	}
	slices.Sort(ai)
	slices.Sort(bi)
	return s.Subset(ai), s.Subset(bi)
}

// splitmix is the SplitMix64 generator.
type splitmix struct{ state uint64 }

func (r *splitmix) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// classOf is the class of a file: its name's prefix before the first '_',
// or else folder.
func classOf(name, folder string) string {
	if i := strings.IndexByte(name, '_'); i > 0 {
		return name[:i]
	}
	return folder
}
