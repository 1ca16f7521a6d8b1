// Package fswatch watches a single file (catd's config) for new contents and
// hands each new version to a callback, coping with the ways files really get
// replaced on a running system.
//
// # What is watched
//
// The file's parent directory is watched, not the file. Editors and tools do
// not write a file in place: vim writes a temporary file and renames it over
// the old one, `sed -i` does the same, some tools remove the file and create a
// new one. A watch on the file itself follows the old inode and goes quiet
// after the first such save; a watch on the directory sees the new name
// arrive. Events are filtered on the file's name; Create, Write, Remove and
// Rename count, Chmod is ignored, unless the last read failed (a chmod may
// be what makes the file readable again).
//
// If the path is a symbolic link (/etc/catd/catd.yaml -> ../catd-v2/catd.yaml,
// or a Kubernetes ConfigMap whose files point through a "..data" directory
// link), the directory holding the resolved target is watched as well, so
// that edits made in place to the target are seen. Any event in either
// directory makes the watcher compare filepath.EvalSymlinks(path) with the
// last result; a different target is a swap, and the file is read. Only those
// two directories are watched: a link in the middle of a chain that lives in
// a third directory is noticed only by the Poll safety net (see Options).
//
// # When the callback is called
//
// Events come in bursts (a write in several chunks, truncate then write,
// write temp then rename), so the file is read once the events have been
// quiet for Options.Debounce; an endless stream of events (a busy directory)
// still gets a read every ten Debounce periods. What is read is then skipped,
// not delivered, when:
//   - it is empty (a truncate seen mid-save): logged at debug level, and the
//     next event is waited for;
//   - its bytes are the same as the last ones delivered (compared by SHA-256),
//     unless the read was asked for with Reload;
//   - the file is gone (removed and not yet back, or a dangling link): logged
//     once at warn level, and delivered again when it comes back;
//   - it cannot be read (permissions, not a regular file, larger than
//     Options.MaxSize): logged at error level with the path, once per
//     distinct error. A named pipe or a device is never read (and a named
//     pipe never waited on): see package catd/internal/regfile. The read is
//     tried again on the next event about the file of any kind (a chmod
//     too) and every second until it succeeds; since a failed read does
//     not count as a delivery, contents that changed while the file could
//     not be read are delivered once it can be, without another change.
//
// The contents present at New are not delivered (the caller loaded the file
// itself), but their hash is kept, so rewriting the same bytes delivers
// nothing. A file that is removed and comes back with the same bytes is not
// delivered either: from the caller's point of view nothing changed.
//
// Nothing is fatal. fsnotify's errors are logged; if fsnotify cannot be used
// at all (no inotify instances or watches left, the directory removed or
// moved), the Watcher logs that and falls back to re-reading the file every
// second, for as long as Run runs.
//
// Validating the contents is the caller's job: fsnotify tells when a file
// changed, not that its new contents make sense.
package fswatch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"catd/internal/regfile"
)

// Reasons passed to the callback of Run.
const (
	// ReasonChanged: the file's contents changed (written in place, renamed
	// over, or removed and re-created within one burst of events).
	ReasonChanged = "changed"
	// ReasonCreated: the file was absent at the last look (at New, or it
	// was removed) and is there now.
	ReasonCreated = "created"
	// ReasonReload: the read was asked for with Reload; the contents may be
	// the same as last time.
	ReasonReload = "reload"
	// ReasonSymlink: the path is a symbolic link that now resolves to a
	// different file.
	ReasonSymlink = "symlink"
)

// DefaultDebounce is the quiet time used when Options.Debounce is zero.
const DefaultDebounce = 100 * time.Millisecond

const (
	// fallbackPoll is the re-read period once fsnotify cannot be used,
	// and while reads fail.
	fallbackPoll = time.Second
	// maxWaitDebounces bounds how long a stream of events can put a read
	// off, in Debounce periods.
	maxWaitDebounces = 10
	// DefaultMaxSize is the largest file read when Options.MaxSize is
	// zero, in bytes: a config file is a few KiB, and a path pointing at
	// something huge must not eat the memory.
	DefaultMaxSize = 16 << 20
)

// Options configure a Watcher. The zero value is usable.
type Options struct {
	// Debounce is the quiet time after the last event before the file is
	// read. Zero or less means DefaultDebounce (100 ms).
	Debounce time.Duration
	// Poll, if positive, also re-reads the file every Poll as a safety net
	// for changes fsnotify does not report (network file systems, a link
	// chain through a third directory). Zero or less means off. If fsnotify
	// cannot be used, the file is polled every second, or every Poll if
	// that is shorter, whatever Poll says. A poll reads the file at once,
	// without debouncing (empty contents are still skipped); pick a period
	// of seconds, a config file is small.
	Poll time.Duration
	// MaxSize is the largest file read, in bytes; a larger one is not
	// delivered (logged at error level). Zero or less means
	// DefaultMaxSize (16 MiB).
	MaxSize int64
	// Log receives what the Watcher has to say; every line carries the
	// field "path". The zero Logger discards everything.
	Log zerolog.Logger
}

// Watcher watches one file. Make it with New and start it with Run.
type Watcher struct {
	path     string // absolute and clean
	dir      string // filepath.Dir(path), the directory watched
	realDir  string // dir with its symbolic links resolved
	debounce time.Duration
	poll     time.Duration
	maxSize  int64
	log      zerolog.Logger
	reload   chan struct{} // capacity 1: Reload requests coalesce
	running  atomic.Bool

	// newFS makes the fsnotify watcher (fsnotify.NewWatcher); tests replace
	// it to make fsnotify fail. testReady, if set, is called once Run has
	// set its watches up.
	newFS     func() (*fsnotify.Watcher, error)
	testReady func()
	// read reads the file (regfile.Read); tests replace it to make reads
	// fail as root, whom permissions do not stop. retryEvery is the period
	// of re-reads while reads fail (fallbackPoll); tests change it.
	read       func(path string, maxSize int64) ([]byte, error)
	retryEvery time.Duration

	// The rest belongs to New, then to Run's goroutine.

	sum     [sha256.Size]byte // of the contents last delivered, or found at New
	haveSum bool
	target  string // EvalSymlinks(path) at the last check; "" if it did not resolve
	// targetEv is the name events for target carry: target itself when it
	// is watched through its own directory, or its name joined to dir when
	// it lives in the watched directory.
	targetEv string
	missing  bool   // the file was absent at the last look
	swapped  bool   // target changed since the last successful read
	lastErr  string // the last read error logged
	// failed: the last read failed (for another reason than a missing
	// file), so any event about the file, and the ticker, read it again.
	failed bool
	// retrying: the ticker runs only because the last read failed.
	retrying bool

	fs            *fsnotify.Watcher // nil while polling only
	watchedTarget string            // the target's directory while watched, else ""
	timer         *time.Timer       // debounce
	pending       bool              // timer is armed
	deadline      time.Time         // read no later than this while pending
	ticker        *time.Ticker      // poll; nil when not polling
	tickEvery     time.Duration
}

// New makes a Watcher for the file at path. It starts nothing: Run does.
// The file need not exist yet, but its directory must. If the file exists,
// its contents are hashed now, so that Run does not deliver them again.
func New(path string, opt Options) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("fswatch: %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fswatch: directory of %s: %w", abs, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("fswatch: %s is not a directory", dir)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("fswatch: directory of %s: %w", abs, err)
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return nil, fmt.Errorf("fswatch: %s is a directory, not a file", abs)
	}
	w := &Watcher{
		path:     abs,
		dir:      dir,
		realDir:  realDir,
		debounce: opt.Debounce,
		poll:     max(opt.Poll, 0),
		maxSize:  opt.MaxSize,
		log:      opt.Log.With().Str("path", abs).Logger(),
		reload:   make(chan struct{}, 1),
		newFS:    fsnotify.NewWatcher,

		read:       regfile.Read,
		retryEvery: fallbackPoll,
	}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	if w.maxSize <= 0 {
		w.maxSize = DefaultMaxSize
	}
	w.setTarget(resolve(abs))
	data, err := w.read(abs, w.maxSize)
	switch {
	case err == nil:
		if len(data) > 0 {
			w.sum, w.haveSum = sha256.Sum256(data), true
		}
	case errors.Is(err, fs.ErrNotExist):
		w.missing = true
	}
	// Any other error is logged by Run's first look.
	return w, nil
}

// Path returns the absolute path of the watched file.
func (w *Watcher) Path() string { return w.path }

// Reload asks Run to re-read the file now (for SIGHUP) and to call its
// callback with reason "reload" even if the bytes are unchanged; an empty,
// missing or unreadable file is still skipped and logged. Reload never
// blocks and may be called from any goroutine; requests made before Run
// serves the previous one coalesce into one. A request made while Run is not
// running is served when Run starts.
func (w *Watcher) Reload() {
	select {
	case w.reload <- struct{}{}:
	default:
	}
}

// Run watches the file until ctx is done, then returns nil. Each time the
// file's contents change it calls fn with them and one of the Reason
// constants; fn is called from Run's goroutine, one call at a time, and owns
// data (Run keeps no reference to it). Contents that changed between New and
// Run are delivered when Run starts. Run has no other way to end: every
// failure is logged and watching goes on, by polling if need be. When Run
// returns, the fsnotify watcher is closed and no goroutine of Run's is left.
//
// Run must not be called again before it returns (it panics if it is).
func (w *Watcher) Run(ctx context.Context, fn func(data []byte, reason string)) error {
	if fn == nil {
		panic("fswatch: Run with a nil callback")
	}
	if !w.running.CompareAndSwap(false, true) {
		panic("fswatch: Run called while already running")
	}
	defer w.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}

	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	defer w.stop()

	if err := w.startFS(); err != nil {
		w.log.Warn().Err(err).Dur("poll", fallbackEvery(w.poll)).
			Msg("fswatch: cannot watch with fsnotify; polling instead")
		w.startPolling(fallbackEvery(w.poll))
	} else if w.poll > 0 {
		w.startPolling(w.poll)
	}
	if w.missing {
		w.log.Info().Msg("fswatch: file does not exist yet; waiting for it")
	}
	w.check(fn, false)
	if w.testReady != nil {
		w.testReady()
	}

	for {
		var (
			events <-chan fsnotify.Event
			errs   <-chan error
			tick   <-chan time.Time
		)
		if w.fs != nil {
			events, errs = w.fs.Events, w.fs.Errors
		}
		if w.ticker != nil {
			tick = w.ticker.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.reload:
			w.check(fn, true)
		case <-w.timer.C:
			w.pending = false
			w.check(fn, false)
		case <-tick:
			if !w.pending { // else a read is due soon anyway
				w.check(fn, false)
			}
		case ev, ok := <-events:
			if !ok {
				w.fsLost("fswatch: fsnotify watcher stopped; polling instead")
				continue
			}
			w.event(ev)
		case err, ok := <-errs:
			if !ok {
				w.fsLost("fswatch: fsnotify watcher stopped; polling instead")
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn().Err(err).Msg("fswatch: events were lost; re-reading the file")
				w.schedule()
				continue
			}
			w.log.Warn().Err(err).Msg("fswatch: fsnotify error")
		}
	}
}

// stop releases what Run made, so that Run may be called again.
func (w *Watcher) stop() {
	w.timer.Stop()
	w.pending = false
	if w.ticker != nil {
		w.ticker.Stop()
		w.ticker, w.tickEvery = nil, 0
	}
	w.retrying = false
	w.closeFS()
}

// startFS watches the directory with a new fsnotify watcher. The target's
// directory, if any, is added by the first check.
func (w *Watcher) startFS() error {
	fw, err := w.newFS()
	if err != nil {
		return err
	}
	if err := fw.Add(w.dir); err != nil {
		fw.Close()
		return fmt.Errorf("watch %s: %w", w.dir, err)
	}
	w.fs, w.watchedTarget = fw, ""
	return nil
}

func (w *Watcher) closeFS() {
	if w.fs == nil {
		return
	}
	if err := w.fs.Close(); err != nil {
		w.log.Debug().Err(err).Msg("fswatch: closing fsnotify")
	}
	w.fs, w.watchedTarget = nil, ""
}

// fsLost gives fsnotify up and polls instead, logging msg; events may have
// been lost, so a read is scheduled.
func (w *Watcher) fsLost(msg string) {
	w.closeFS()
	every := fallbackEvery(w.poll)
	w.log.Warn().Dur("poll", every).Str("dir", w.dir).Msg(msg)
	w.startPolling(every)
	w.retrying = false // the ticker stays when reads work again
	w.schedule()
}

// fallbackEvery is the poll period once fsnotify cannot be used.
func fallbackEvery(poll time.Duration) time.Duration {
	if poll > 0 && poll < fallbackPoll {
		return poll
	}
	return fallbackPoll
}

func (w *Watcher) startPolling(every time.Duration) {
	if w.ticker != nil {
		if w.tickEvery == every {
			return
		}
		w.ticker.Stop()
	}
	w.ticker, w.tickEvery = time.NewTicker(every), every
}

// schedule arms the debounce timer: the file is read after Debounce of
// quiet, but no later than maxWaitDebounces periods after the first event
// of the burst.
func (w *Watcher) schedule() {
	now := time.Now()
	if !w.pending {
		w.pending = true
		w.deadline = now.Add(maxWaitDebounces * w.debounce)
	}
	w.timer.Reset(max(min(w.debounce, w.deadline.Sub(now)), 0))
}

// event looks at one fsnotify event and schedules a read if it may concern
// the file.
func (w *Watcher) event(ev fsnotify.Event) {
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) &&
		!ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) && !w.failed {
		// Chmod, and anything else that does not change contents; but
		// after a failed read a chmod may be the fix.
		return
	}
	name := filepath.Clean(ev.Name)
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	switch {
	case name == w.dir && gone:
		w.fsLost("fswatch: watched directory was removed or moved; polling instead")
	case name == w.watchedTarget && gone:
		// fsnotify has dropped that watch; the next check looks again.
		w.watchedTarget = ""
		w.schedule()
	case name == w.path || (w.targetEv != "" && name == w.targetEv):
		w.schedule()
	case w.target != w.path:
		// The path is (or was) a link: any event in either directory may
		// be the swap of a link on the way, such as Kubernetes' ..data.
		if resolve(w.path) != w.target {
			w.schedule()
		}
	}
}

// resolve returns the file path points to, or "" if it does not resolve.
func resolve(path string) string {
	t, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	return t
}

// setTarget records the resolved path and the event name it goes by.
func (w *Watcher) setTarget(t string) {
	w.target, w.targetEv = t, t
	if t != "" && filepath.Dir(t) == w.realDir {
		w.targetEv = filepath.Join(w.dir, filepath.Base(t))
	}
}

// watchTarget watches the directory of the link's target, if it differs
// from the watched directory, and stops watching an old one.
func (w *Watcher) watchTarget() {
	if w.fs == nil {
		return
	}
	want := ""
	if w.target != "" && filepath.Dir(w.target) != w.realDir {
		want = filepath.Dir(w.target)
	}
	if want == w.watchedTarget {
		return
	}
	if w.watchedTarget != "" {
		// It may be gone already (a Kubernetes update removes the old
		// directory), and fsnotify with it.
		if err := w.fs.Remove(w.watchedTarget); err != nil {
			w.log.Debug().Err(err).Str("dir", w.watchedTarget).Msg("fswatch: unwatching old target directory")
		}
		w.watchedTarget = ""
	}
	if want == "" {
		return
	}
	if err := w.fs.Add(want); err != nil {
		w.log.Warn().Err(err).Str("dir", want).
			Msg("fswatch: cannot watch the link's target directory; edits made there are seen only by a swap or polling")
		return
	}
	w.watchedTarget = want
}

// check resolves the path, reads the file and delivers its contents if they
// are new, or if force is set.
func (w *Watcher) check(fn func([]byte, string), force bool) {
	if t := resolve(w.path); t != w.target {
		if w.target != "" && t != "" {
			w.swapped = true
		}
		w.setTarget(t)
	}
	w.watchTarget()

	data, err := w.read(w.path, w.maxSize)
	w.setFailed(err != nil && !errors.Is(err, fs.ErrNotExist))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.lastErr = ""
		if !w.missing {
			w.missing = true
			w.log.Warn().Msg("fswatch: file is gone; waiting for it to come back")
		}
		return
	case err != nil:
		if msg := err.Error(); msg != w.lastErr {
			w.lastErr = msg
			w.log.Error().Err(err).Msg("fswatch: cannot read file; keeping the last contents")
		}
		return
	}
	w.lastErr = ""
	if len(data) == 0 {
		w.log.Debug().Msg("fswatch: file is empty; waiting for the next event")
		return
	}
	sum := sha256.Sum256(data)
	reason := ReasonChanged
	switch {
	case force:
		reason = ReasonReload
	case w.swapped:
		reason = ReasonSymlink
	case w.missing:
		reason = ReasonCreated
	}
	w.missing, w.swapped = false, false
	if !force && w.haveSum && sum == w.sum {
		w.log.Debug().Msg("fswatch: contents unchanged")
		return
	}
	w.sum, w.haveSum = sum, true
	w.log.Info().Str("reason", reason).Int("bytes", len(data)).Msg("fswatch: new contents")
	fn(data, reason)
}

// setFailed notes whether the last read failed: while it does, the file is
// re-read every retryEvery (by the poll ticker if one runs already), and
// events that do not change contents (Chmod) count too. A missing file
// is not a failure: its return is an event.
func (w *Watcher) setFailed(failed bool) {
	w.failed = failed
	switch {
	case failed && w.ticker == nil:
		w.startPolling(w.retryEvery)
		w.retrying = true
	case !failed && w.retrying:
		w.ticker.Stop()
		w.ticker, w.tickEvery, w.retrying = nil, 0, false
	}
}
