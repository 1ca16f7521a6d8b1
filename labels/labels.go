// Package labels takes the labels users give catd: images dropped into
// watched folders, one per class, preprocessed exactly like camera frames
// and handed to the learner.
//
// # The folder protocol
//
// The labels folder (by default <state>/labels) holds four folders, made
// if they are missing (cat/ and noncat/ with permissions 0770, so that a
// group can drop labels there; the others 0750; the umask applies):
//
//	cat/       put images of the household's cat here
//	noncat/    put images without it here (empty flap, other animals, people)
//	done/      images catd has taken move here, into done/cat/ and done/noncat/
//	rejected/  images catd cannot use move here, each with NAME.txt saying why
//
// To label an image, copy, move or save it into cat/ or noncat/. Any way of
// getting it there works: written in place (even slowly, over a network),
// copied under a temporary name and renamed, or moved from another folder
// of the same file system, such as <state>/review/, where catd keeps the
// frames it was unsure about. The file name does not matter (done/<class>/
// keeps it); the format is judged by the contents: JPEG or PNG.
//
// A file is taken once it is complete, that is once its size and
// modification time have not changed for Options.Settle (half a second by
// default). It is decoded, resized to the model's input as camera frames
// are, handed to the learner and then moved to done/cat/ or done/noncat/,
// by the class it was taken as. If that folder already has a file of that
// name, it gets a unique one: a.jpg becomes a-1.jpg, a-2.jpg
// and so on. An image whose exact bytes catd has already learnt from is
// moved to done/ without being learnt twice. Files in done/ are never read
// again; delete them whenever you like.
//
// Left alone, until renamed to a real name, are: hidden files (".*"),
// editor and download leftovers ("*~", "*.part", "*.partial", "*.tmp",
// "*.crdownload", "*.swp"), and folders inside cat/ and noncat/.
//
// A file that cannot be used moves to rejected/, and a one-line text file
// with the same name plus ".txt" is written beside it with the time and the
// reason: not a JPEG or PNG image, corrupt or cut short, empty, larger than
// Options.MaxBytes, more pixels than Options.MaxPixels, or not a regular
// file. Symbolic links are always rejected (unread), and so are files with
// more than one hard link: the label folders must not become a way to make
// catd read files elsewhere. No link is followed on the way to a file
// either: if cat/, noncat/, done/ or rejected/ is replaced, while catd
// runs, by a link to a folder elsewhere (or by anything else than a
// folder), nothing behind it is listed, read, moved or written; the
// replacement is logged as refused, moved aside to "NAME.refused" in the
// labels folder and the folder is made again. (On Linux every path inside
// the labels folder is resolved with openat2 RESOLVE_BENEATH|
// RESOLVE_NO_SYMLINKS, or with O_NOFOLLOW one name at a time on kernels
// before 5.6.) No reason, and no log line, quotes a file's contents.
//
// A file that fails to decode is rejected only once it has stayed
// unchanged for Options.RejectAfter (ten seconds by default), in case its
// writer had only paused. To try a rejected image again, fix it and move
// it back.
//
// Nothing is lost and nothing is learnt twice, across restarts and crashes
// too: an image is handed to the learner, which stores it, before it is
// moved to done/. If catd stops in between, it finds the image again at the
// next start, recognises its bytes (Options.Seen) and just moves it. If the
// learner cannot store an image (a full disk), the image stays where it is
// and is tried again later, less and less often.
//
// # Output
//
// Example.Pixels is the model input: H×W×3 bytes of interleaved RGB (HWC),
// made by preprocess.Resizer.Image with the options the daemon uses for
// camera frames.
package labels

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"catd/dataset"
	"catd/preprocess"
	"catd/state"
)

// Classes, and the folders of the same names that hold their images.
const (
	Cat    = "cat"
	NonCat = "noncat"
)

// Folders inside Options.Dir besides the class folders.
const (
	DoneDir     = "done"
	RejectedDir = "rejected"
)

// Defaults for zero Options fields.
const (
	DefaultSettle      = 500 * time.Millisecond
	DefaultRejectAfter = 10 * time.Second
	DefaultMaxBytes    = 32 << 20
	// DefaultRescan is the period of the full rescan that catches events
	// fsnotify missed.
	DefaultRescan = 30 * time.Second
)

const (
	// pollEvery is the rescan period when fsnotify cannot be used.
	pollEvery = 2 * time.Second
	// retryMin and retryMax bound the wait before a file whose take failed
	// is tried again; the wait doubles with each failure.
	retryMin = time.Second
	retryMax = 5 * time.Minute
	dirPerm  = 0o750
	// classPerm is the mode of cat/ and noncat/: the group may drop
	// labels there (under the unit, the catd group; see README).
	classPerm = 0o770
	// reasonPerm is the mode of the rejected/NAME.txt files.
	reasonPerm = 0o640
)

// Example is one labelled image.
type Example struct {
	// Class is Cat or NonCat.
	Class string
	// Pixels is the model input, H×W×3 bytes of RGB (HWC). It is a fresh
	// slice that belongs to the receiver of the Example.
	Pixels []uint8
	// Name is the file's base name, as it was in the class folder.
	Name string
	// Hash is the SHA-256 of the file's bytes: the same image dropped again,
	// under any name, has the same Hash (see Options.Seen).
	Hash [32]byte
	// Time is the file's modification time: when the frame was taken for a
	// frame moved from the review folder (a move keeps it), when the file
	// was written otherwise.
	Time time.Time
}

// Options configure an Inbox.
type Options struct {
	// Dir is the labels folder. New makes it and cat/, noncat/, done/ and
	// rejected/ inside it (permissions 0750) if they are missing; the four
	// must be real folders on the same file system, not links.
	Dir string
	// W and H are the model's input size in pixels, 1 to 4096 each.
	W, H int
	// Resize is the region of interest and fit the daemon uses for frames.
	Resize preprocess.Options
	// Settle is how long a file's size and modification time must stay the
	// same before it is read. Zero or less means DefaultSettle (500 ms).
	// (fsnotify v1.10 does not export inotify's close-after-write event,
	// which could otherwise shortcut the wait.)
	Settle time.Duration
	// RejectAfter is how long a settled file that fails to decode (corrupt,
	// cut short, empty, not an image) must stay unchanged before it is
	// rejected: its writer may only have paused. Files too large in bytes or
	// pixels, links and special files are rejected at once. Zero or less
	// means DefaultRejectAfter (10 s).
	RejectAfter time.Duration
	// MaxBytes is the largest file taken, in bytes; larger files are
	// rejected unread. Zero or less means DefaultMaxBytes (32 MiB).
	MaxBytes int64
	// MaxPixels is the largest image taken, in pixels, judged from its
	// header before decoding. Zero or less means dataset.DefaultMaxPixels.
	MaxPixels int
	// Rescan is the period of a full look at the class folders, a safety net
	// for events fsnotify missed. Zero or less means DefaultRescan (30 s).
	// Without fsnotify, the folders are looked at every 2 s, or every Rescan
	// if that is shorter.
	Rescan time.Duration
	// Seen, if not nil, reports whether an image with this hash was already
	// taken with this class (by this Inbox or before a restart); such a
	// file is moved to done/ without calling take. An image taken before
	// with the other class is not "seen": it is taken again, which lets a
	// user correct a label by moving the file from done/ into the other
	// class folder. It is called from Run's goroutine.
	Seen func(hash [32]byte, class string) bool
	// Log receives what the Inbox has to say; lines about a file carry the
	// fields "file" (its path inside Dir) and "class". The zero Logger
	// discards everything.
	Log zerolog.Logger
	// Meter, if not nil, counts the bytes written (the rejected/*.txt
	// files).
	Meter *state.Meter
}

// Stats counts what an Inbox did since New.
type Stats struct {
	Taken      uint64 // images take accepted
	Duplicates uint64 // images moved to done/ untaken because their hash was seen
	Rejected   uint64 // files rejected
	Pending    int    // files waiting in cat/ and noncat/: settling, or to be retried
}

// Inbox takes labelled images from the class folders. Make it with New and
// run it with Run; Stats may be called from any goroutine.
type Inbox struct {
	opt     Options
	dir     string            // Options.Dir, cleaned
	classes [2]string         // Cat, NonCat
	watched map[string]string // class folder path → class
	tree    *tree             // the labels folder, for every look, read and move inside it
	log     zerolog.Logger
	rz      *preprocess.Resizer
	running atomic.Bool

	// newWatcher makes the fsnotify watcher; tests replace it to make
	// fsnotify fail. retryMin is the first wait after a failed take.
	newWatcher func() (*fsnotify.Watcher, error)
	retryMin   time.Duration

	taken, duplicates, rejected atomic.Uint64
	pendingN                    atomic.Int64

	// The rest belongs to Run's goroutine.

	pending map[string]*entry // by path inside dir, "cat/x.jpg"
	seq     uint64            // order in which files were noticed
	due     []*entry          // scratch for process
	// takenNotMoved holds the hashes of images take accepted whose move to
	// done/ failed, so that they are not taken again while they wait.
	takenNotMoved map[[32]byte]struct{}
	intakeErr     bool // markIntake failed once (said once)
}

// New checks opt, makes the folders and returns an Inbox. It starts
// nothing: Run does.
func New(opt Options) (*Inbox, error) {
	if opt.Dir == "" {
		return nil, errors.New("labels: no folder given")
	}
	if opt.W < 1 || opt.H < 1 || opt.W > 4096 || opt.H > 4096 {
		return nil, fmt.Errorf("labels: model input %dx%d out of range", opt.W, opt.H)
	}
	if opt.Settle <= 0 {
		opt.Settle = DefaultSettle
	}
	if opt.RejectAfter <= 0 {
		opt.RejectAfter = DefaultRejectAfter
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = dataset.DefaultMaxPixels
	}
	if opt.Rescan <= 0 {
		opt.Rescan = DefaultRescan
	}
	in := &Inbox{
		opt:           opt,
		dir:           filepath.Clean(opt.Dir),
		classes:       [2]string{Cat, NonCat},
		watched:       make(map[string]string, 2),
		tree:          newTree(filepath.Clean(opt.Dir)),
		log:           opt.Log,
		rz:            preprocess.NewResizer(opt.W, opt.H, opt.Resize),
		newWatcher:    fsnotify.NewWatcher,
		retryMin:      retryMin,
		pending:       make(map[string]*entry),
		takenNotMoved: make(map[[32]byte]struct{}),
	}
	for _, c := range in.classes {
		in.watched[filepath.Join(in.dir, c)] = c
	}
	if err := os.MkdirAll(in.dir, dirPerm); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	for _, sub := range []string{Cat, NonCat, DoneDir, RejectedDir, DoneDir + "/" + Cat, DoneDir + "/" + NonCat} {
		if err := in.makeDir(sub); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// makeDir makes the folder sub of dir if it is missing and checks that it
// is a real folder, not a link to one elsewhere.
func (in *Inbox) makeDir(sub string) error {
	perm := os.FileMode(dirPerm)
	if sub == Cat || sub == NonCat {
		perm = classPerm
	}
	err := in.tree.mkdir(sub, perm)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("labels: %w", err)
	}
	st, err := in.tree.lstat(sub)
	if err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("labels: %s is not a folder (%v)", filepath.Join(in.dir, sub), st.Mode().Type())
	}
	return nil
}

// ensureDir is makeDir for a folder that went missing or was replaced
// while Run runs: anything else than a folder at its place (a symbolic
// link to a folder elsewhere, a file) is refused, unread and unfollowed:
// it is moved aside to "SUB.refused" (or "SUB-1.refused", …) in the labels
// folder, and the folder is made again.
func (in *Inbox) ensureDir(sub string) error {
	st, err := in.tree.lstat(sub)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return in.makeDir(sub)
	case err != nil:
		return fmt.Errorf("labels: %w", err)
	case st.IsDir():
		return nil
	}
	what := typeName(st.Mode())
	if st.Mode()&fs.ModeSymlink != 0 {
		what = "symbolic link"
		if to, err := in.tree.readlink(sub); err == nil {
			what += " to " + strconv.Quote(to)
		}
	}
	aside, err := in.freeName("", sub+".refused", false)
	if err == nil {
		err = in.tree.rename(sub, aside)
	}
	if err != nil {
		in.log.Error().Err(err).Str("folder", sub).Str("found", what).
			Msg("labels: refused a folder that is not a real folder, and cannot move it aside")
		return fmt.Errorf("labels: %s is not a folder but a %s", filepath.Join(in.dir, sub), what)
	}
	in.log.Error().Str("folder", sub).Str("found", what).Str("to", aside).
		Msg("labels: refused a folder that is not a real folder (not followed); moved it aside and made the folder again")
	return in.makeDir(sub)
}

// Stats returns the counts so far. It may be called from any goroutine.
func (in *Inbox) Stats() Stats {
	return Stats{
		Taken:      in.taken.Load(),
		Duplicates: in.duplicates.Load(),
		Rejected:   in.rejected.Load(),
		Pending:    int(in.pendingN.Load()),
	}
}

// Dir returns the labels folder.
func (in *Inbox) Dir() string { return in.dir }

// MoveIn moves the file name from the folder srcDir (catd's own, such as
// its review frames) into the class folder, as a user dropping it there
// would: Run takes it from there. The class folder is reached without
// following links (a class folder swapped for a link to a folder
// elsewhere is refused, not written through), and a file of the same
// name already there is not replaced.
func (in *Inbox) MoveIn(srcDir, name, class string) error {
	if class != Cat && class != NonCat {
		return fmt.Errorf("labels: class %q: want %s or %s", class, Cat, NonCat)
	}
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || ignored(name) {
		return fmt.Errorf("labels: %q is not a file name catd takes", name)
	}
	if err := in.tree.moveIn(srcDir, name, class+"/"+name); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	return nil
}
