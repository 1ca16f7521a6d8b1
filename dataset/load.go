package dataset

import (
	"archive/tar"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"catd/preprocess"
)

// item is one file to load.
type item struct {
	rel   string // slash-separated path inside the set, e.g. "cat/x.jpg"
	path  string // the path reported in Set.Paths and Report.Skipped
	label bool
	class string
	file  string // the file to read from the file system; "" for a tar member
	ord   int    // for a tar member: its position among the tar's entries
}

// listing is what a folder or tar holds.
type listing struct {
	items   []item          // files in the label folders
	found   map[string]bool // label folders present
	ignored map[string]int  // other folders and their file counts
	skipped []Skipped
}

func newListing() listing {
	return listing{found: map[string]bool{}, ignored: map[string]int{}}
}

// labelOf says whether a top-level folder is a label folder, and its label.
func labelOf(dir string) (label, ok bool) {
	switch dir {
	case CatDir:
		return true, true
	case NonCatDir:
		return false, true
	}
	return false, false
}

func labelName(label bool) string {
	if label {
		return CatDir
	}
	return NonCatDir
}

func (opt Options) withDefaults() Options {
	if opt.W < 1 || opt.H < 1 {
		panic(fmt.Sprintf("dataset: image size %dx%d: W and H must be positive", opt.W, opt.H))
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = DefaultMaxPixels
	}
	if opt.MaxFileBytes <= 0 {
		opt.MaxFileBytes = DefaultMaxFileBytes
	}
	return opt
}

func newReport() Report {
	return Report{Loaded: map[string]int{}, Ignored: map[string]int{}}
}

// Load reads the labelled set at path: a folder holding cat/ and noncat/,
// a .tar file of such a folder, or a folder inside a tar file
// ("set.tar/train"). Files in the label folders are loaded (recursively);
// other folders are counted in Report.Ignored; files that are not JPEG or
// PNG images, are corrupt or over the limits of opt are listed in
// Report.Skipped. The error is non-nil only when nothing could be loaded:
// path is missing or unreadable, has neither cat/ nor noncat/, or yields
// no image. It panics if opt.W or opt.H is not positive.
func Load(path string, opt Options) (*Set, Report, error) {
	opt = opt.withDefaults()
	rep := newReport()
	var (
		l       listing
		err     error
		tarFile string
	)
	fi, statErr := os.Stat(path)
	switch {
	case statErr == nil && fi.IsDir():
		l, err = listDir(path)
	case statErr == nil && fi.Mode().IsRegular() && isTarName(path):
		tarFile = path
		l, err = listTar(path, tarFile, "", opt.MaxFileBytes)
	case statErr == nil:
		return nil, rep, fmt.Errorf("dataset: %s is neither a folder nor a .tar file", path)
	default:
		var inner string
		var ok bool
		if tarFile, inner, ok = splitTar(path); !ok {
			return nil, rep, fmt.Errorf("dataset: %w", statErr)
		}
		l, err = listTar(path, tarFile, inner, opt.MaxFileBytes)
	}
	if err != nil {
		return nil, rep, err
	}
	rep.Ignored = l.ignored
	if !l.found[CatDir] && !l.found[NonCatDir] {
		return nil, rep, fmt.Errorf("dataset: %s has no %s/ or %s/ folder%s", path, CatDir, NonCatDir, foundList(l.ignored))
	}
	for name := range l.found {
		rep.Loaded[name] = 0
	}
	items := choose(l.items, opt.Limit)

	ld := newLoader(opt, len(items))
	ld.run(func(send func(job)) {
		if tarFile == "" {
			for i, it := range items {
				send(job{i: i, file: it.file})
			}
			return
		}
		want := make(map[string][]int, len(items))
		for i, it := range items {
			want[strconv.Itoa(it.ord)] = []int{i}
		}
		ld.readTar(tarFile, want, func(ord int, _ string) string { return strconv.Itoa(ord) }, send)
	})
	s := ld.finish(items, &rep, func(it item) string { return labelName(it.label) })
	rep.Skipped = append(rep.Skipped, l.skipped...)
	sortSkipped(rep.Skipped)
	if s.Len() == 0 {
		return nil, rep, fmt.Errorf("dataset: %s: no images loaded%s", path, skippedSummary(rep.Skipped))
	}
	return s, rep, nil
}

// LoadFiles reads the image files paths, in that order, as an unlabelled
// Set (all labels false), for prediction. A path may lead into a tar file
// ("set.tar/val/cat/x.jpg"), as Set.Paths of a Load from a tar do. Files
// that cannot be used are listed in Report.Skipped and left out of the
// Set; the error is non-nil only when no image was loaded. Report.Loaded
// counts the images under "files". It panics if opt.W or opt.H is not
// positive.
func LoadFiles(paths []string, opt Options) (*Set, Report, error) {
	opt = opt.withDefaults()
	rep := newReport()
	if len(paths) == 0 {
		return nil, rep, errors.New("dataset: no image files given")
	}
	items := make([]item, len(paths))
	pre := make([]error, len(paths))
	tars := map[string]map[string][]int{} // tar file → member name → indices
	var tarOrder []string
	for i, p := range paths {
		items[i] = item{path: p, class: classOf(filepath.Base(p), filepath.Base(filepath.Dir(p)))}
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			pre[i] = errors.New("is a folder, not an image file")
		case err == nil:
			items[i].file = p
		default:
			tf, inner, ok := splitTar(p)
			if !ok || inner == "" {
				pre[i] = err
				continue
			}
			if tars[tf] == nil {
				tars[tf] = map[string][]int{}
				tarOrder = append(tarOrder, tf)
			}
			tars[tf][inner] = append(tars[tf][inner], i)
		}
	}
	ld := newLoader(opt, len(items))
	for i, err := range pre {
		if err != nil {
			ld.errs[i] = err
		}
	}
	ld.run(func(send func(job)) {
		for i, it := range items {
			if it.file != "" {
				send(job{i: i, file: it.file})
			}
		}
		for _, tf := range tarOrder {
			ld.readTar(tf, tars[tf], func(_ int, name string) string { return name }, send)
		}
	})
	s := ld.finish(items, &rep, func(item) string { return "files" })
	sortSkipped(rep.Skipped)
	if s.Len() == 0 {
		return nil, rep, fmt.Errorf("dataset: no images loaded%s", skippedSummary(rep.Skipped))
	}
	return s, rep, nil
}

// choose sorts items by path and keeps at most limit of each label, picked
// by a hash of their paths.
func choose(items []item, limit int) []item {
	if limit > 0 {
		var kept []item
		for _, label := range []bool{false, true} {
			type hashed struct {
				h  uint64
				it item
			}
			var hs []hashed
			for _, it := range items {
				if it.label == label {
					h := fnv.New64a()
					io.WriteString(h, it.rel)
					hs = append(hs, hashed{h.Sum64(), it})
				}
			}
			slices.SortFunc(hs, func(a, b hashed) int {
				return cmp.Or(cmp.Compare(a.h, b.h), strings.Compare(a.it.rel, b.it.rel))
			})
			for _, h := range hs[:min(limit, len(hs))] {
				kept = append(kept, h.it)
			}
		}
		items = kept
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.rel, b.rel) })
	return items
}

func sortSkipped(s []Skipped) {
	slices.SortStableFunc(s, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
}

func skippedSummary(s []Skipped) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (skipped %s)", s[0])
	}
	return fmt.Sprintf(" (%d files skipped, the first %s)", len(s), s[0])
}

func foundList(ignored map[string]int) string {
	if len(ignored) == 0 {
		return ""
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range ignored {
			if !yield(k + "/") {
				return
			}
		}
	})
	return " (found " + strings.Join(names, ", ") + ")"
}

// isTarName says whether a file name ends in .tar.
func isTarName(p string) bool { return strings.EqualFold(filepath.Ext(p), ".tar") }

// splitTar finds the longest prefix of p that is a regular file named
// *.tar and returns it and the rest of p as a slash-separated path inside
// the tar ("" if p is the tar file itself).
func splitTar(p string) (tarFile, inner string, ok bool) {
	clean := filepath.Clean(p)
	for cur := clean; ; {
		if isTarName(cur) {
			if fi, err := os.Stat(cur); err == nil && fi.Mode().IsRegular() {
				rel, err := filepath.Rel(cur, clean)
				if err != nil {
					return "", "", false
				}
				if rel == "." {
					rel = ""
				}
				return cur, filepath.ToSlash(rel), true
			}
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", "", false
		}
		cur = parent
	}
}

// cleanTarName turns a tar member's name into a clean relative path.
func cleanTarName(name string) string {
	name = strings.TrimLeft(path.Clean("/"+name), "/")
	if name == "" {
		return "."
	}
	return name
}

// listDir lists the folder root.
func listDir(root string) (listing, error) {
	l := newListing()
	ents, err := os.ReadDir(root)
	if err != nil {
		return l, fmt.Errorf("dataset: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(root, name)
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(full); err == nil {
				isDir = fi.IsDir()
			}
		}
		if !isDir {
			l.skipped = append(l.skipped, Skipped{full, "outside the cat/ and noncat/ folders"})
			continue
		}
		label, isLabel := labelOf(name)
		if isLabel {
			l.found[name] = true
		} else {
			l.ignored[name] += 0
		}
		// os.DirFS follows a symbolic link at the root but not below it.
		fs.WalkDir(os.DirFS(full), ".", func(p string, d fs.DirEntry, err error) error {
			rel := name + "/" + p
			if p == "." {
				rel = name
			}
			if err != nil {
				l.skipped = append(l.skipped, Skipped{filepath.Join(root, filepath.FromSlash(rel)), err.Error()})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if !isLabel {
				l.ignored[name]++
				return nil
			}
			file := filepath.Join(root, filepath.FromSlash(rel))
			l.items = append(l.items, item{
				rel: rel, path: file, file: file, label: label,
				class: classOf(d.Name(), path.Base(path.Dir(rel))),
			})
			return nil
		})
	}
	return l, nil
}

// listTar lists the folder inner ("" for the whole tar) of tarFile, naming
// files display/…; it reads only the tar's headers.
func listTar(display, tarFile, inner string, maxBytes int64) (listing, error) {
	l := newListing()
	f, err := os.Open(tarFile)
	if err != nil {
		return l, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	if inner != "" {
		inner = cleanTarName(inner)
	}
	prefix := inner + "/"
	innerSeen := inner == ""
	tr := tar.NewReader(f)
	for ord := 0; ; ord++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ord == 0 {
				return l, fmt.Errorf("dataset: %s: not a readable tar file: %w", tarFile, err)
			}
			l.skipped = append(l.skipped, Skipped{tarFile, fmt.Sprintf("tar unreadable after %d entries, the rest is ignored: %v", ord, err)})
			break
		}
		name := cleanTarName(hdr.Name)
		if inner != "" {
			if name == inner {
				innerSeen = true
				continue
			}
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			innerSeen = true
			name = name[len(prefix):]
		}
		if name == "." {
			continue
		}
		top, rest, _ := strings.Cut(name, "/")
		label, isLabel := labelOf(top)
		isDir := hdr.Typeflag == tar.TypeDir
		regular := hdr.Typeflag == tar.TypeReg
		if rest == "" && !isDir {
			if regular {
				l.skipped = append(l.skipped, Skipped{filepath.Join(display, filepath.FromSlash(name)), "outside the cat/ and noncat/ folders"})
			}
			continue
		}
		if isLabel {
			l.found[top] = true
		} else {
			l.ignored[top] += 0
		}
		if isDir {
			continue
		}
		if !isLabel {
			if regular {
				l.ignored[top]++
			}
			continue
		}
		p := filepath.Join(display, filepath.FromSlash(name))
		switch {
		case !regular:
			if hdr.Typeflag != tar.TypeXGlobalHeader {
				l.skipped = append(l.skipped, Skipped{p, fmt.Sprintf("tar entry of type %q is not a regular file", hdr.Typeflag)})
			}
			continue
		case hdr.Size > maxBytes:
			l.skipped = append(l.skipped, Skipped{p, tooBig(hdr.Size, maxBytes).Error()})
			continue
		}
		l.items = append(l.items, item{
			rel: name, path: p, label: label, ord: ord,
			class: classOf(path.Base(name), path.Base(path.Dir(name))),
		})
	}
	if !innerSeen {
		return l, fmt.Errorf("dataset: %s: no %s/ inside %s", display, inner, tarFile)
	}
	return l, nil
}

func tooBig(n, limit int64) error {
	return fmt.Errorf("file of %d bytes is over the limit of %d bytes: %w", n, limit, ErrTooLarge)
}

// job is one image for a worker: its index and its bytes, or the file to
// read them from.
type job struct {
	i    int
	file string
	data []byte
}

// errNotRead marks an image no job delivered (a bug if it shows).
var errNotRead = errors.New("dataset: not read")

// loader decodes and resizes images into one buffer with a pool of
// workers.
type loader struct {
	opt    Options
	n      int // bytes per image
	pixels []uint8
	errs   []error // per image; nil once loaded
}

func newLoader(opt Options, n int) *loader {
	ld := &loader{opt: opt, n: opt.W * opt.H * 3}
	ld.pixels = make([]uint8, n*ld.n)
	ld.errs = make([]error, n)
	for i := range ld.errs {
		ld.errs[i] = errNotRead
	}
	return ld
}

// run starts the workers and calls produce, in the calling goroutine, to
// hand them jobs; it returns when every job is done.
func (ld *loader) run(produce func(send func(job))) {
	jobs := make(chan job, 2*ld.opt.Workers)
	var wg sync.WaitGroup
	for range min(ld.opt.Workers, max(1, len(ld.errs))) {
		wg.Go(func() {
			rz := preprocess.NewResizer(ld.opt.W, ld.opt.H, preprocess.Options{})
			for j := range jobs {
				ld.errs[j.i] = ld.process(rz, j)
			}
		})
	}
	produce(func(j job) { jobs <- j })
	close(jobs)
	wg.Wait()
}

// process loads one image into its place in ld.pixels.
func (ld *loader) process(rz *preprocess.Resizer, j job) error {
	data := j.data
	if j.file != "" {
		var err error
		if data, err = readFile(j.file, ld.opt.MaxFileBytes); err != nil {
			return err
		}
	}
	img, err := decodeBytes(data, ld.opt.MaxPixels)
	if err != nil {
		return err
	}
	return rz.Image(ld.pixels[j.i*ld.n:(j.i+1)*ld.n], img)
}

// readFile reads a file of at most maxBytes bytes.
func readFile(name string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	if fi.Size() > maxBytes {
		return nil, tooBig(fi.Size(), maxBytes)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxBytes+1)); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(buf.Len()) > maxBytes {
		return nil, tooBig(int64(buf.Len()), maxBytes)
	}
	return buf.Bytes(), nil
}

// readTar reads tarFile from start to end and sends the members that key
// maps to indices in want; members it cannot deliver get an error.
func (ld *loader) readTar(tarFile string, want map[string][]int, key func(ord int, name string) string, send func(job)) {
	failAll := func(err error) {
		for _, idx := range want {
			for _, i := range idx {
				ld.errs[i] = err
			}
		}
	}
	f, err := os.Open(tarFile)
	if err != nil {
		failAll(err)
		return
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for ord := 0; len(want) > 0; ord++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			failAll(fmt.Errorf("not found in %s", tarFile))
			return
		}
		if err != nil {
			failAll(fmt.Errorf("read %s: %w", tarFile, err))
			return
		}
		k := key(ord, cleanTarName(hdr.Name))
		idx, ok := want[k]
		if !ok {
			continue
		}
		delete(want, k)
		var data []byte
		switch {
		case hdr.Typeflag != tar.TypeReg:
			err = fmt.Errorf("tar entry of type %q is not a regular file", hdr.Typeflag)
		case hdr.Size > ld.opt.MaxFileBytes:
			err = tooBig(hdr.Size, ld.opt.MaxFileBytes)
		default:
			data = make([]byte, hdr.Size)
			if _, rerr := io.ReadFull(tr, data); rerr != nil {
				err = fmt.Errorf("read from %s: %w", tarFile, rerr)
			}
		}
		for _, i := range idx {
			if err != nil {
				ld.errs[i] = err
			} else {
				send(job{i: i, data: data})
			}
		}
	}
}

// finish gathers the loaded images, in order, into a Set and reports the
// others, moving the pixels down within ld.pixels.
func (ld *loader) finish(items []item, rep *Report, key func(item) string) *Set {
	s := &Set{W: ld.opt.W, H: ld.opt.H}
	n := ld.n
	classes := map[string]string{} // one copy of each class string
	k := 0
	for i, it := range items {
		if err := ld.errs[i]; err != nil {
			rep.Skipped = append(rep.Skipped, Skipped{it.path, strings.TrimPrefix(err.Error(), "dataset: ")})
			continue
		}
		if k != i {
			copy(ld.pixels[k*n:(k+1)*n], ld.pixels[i*n:(i+1)*n])
		}
		c, ok := classes[it.class]
		if !ok {
			c = it.class
			classes[c] = c
		}
		s.Labels = append(s.Labels, it.label)
		s.Paths = append(s.Paths, it.path)
		s.Classes = append(s.Classes, c)
		rep.Loaded[key(it)]++
		k++
	}
	s.Pixels = ld.pixels[: k*n : k*n]
	if 2*k < len(items) {
		s.Pixels = slices.Clone(s.Pixels) // release the skipped images' space
	}
	return s
}
