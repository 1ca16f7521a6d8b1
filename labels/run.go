package labels

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// entry is a file noticed in a class folder and not yet taken, rejected or
// found gone.
type entry struct {
	class, name string
	rel         string // class/name, the path inside the labels folder
	seq         uint64 // order in which files were noticed

	// What the last look found, and when it changed. A file is read once
	// it has been unchanged for Settle.
	observed bool
	size     int64
	mtime    time.Time
	since    time.Time

	// bad is why the file, as it is (size, mtime), did not decode; it is
	// rejected once unchanged for RejectAfter.
	bad string

	due      time.Time // when to look at it next; zero is now
	retryAt  time.Time // no take (or move) before this, after a failure
	failures int       // failed takes or moves in a row
}

// ignored reports whether a name in a class folder is left alone: hidden
// files and the temporary names editors, browsers and copy tools write
// before renaming the file to its real name.
func ignored(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	lower := strings.ToLower(name)
	for _, suffix := range []string{".part", ".partial", ".tmp", ".crdownload", ".swp"} {
		if strings.HasSuffix(lower, suffix) {
			return true
		}
	}
	return false
}

// Run takes every complete image in cat/ and noncat/ until ctx is done,
// then returns nil. Files there when Run starts come first (cat/ then
// noncat/, each in name order), then new ones as they arrive. For each image it calls take, from
// Run's goroutine and one call at a time, with the image preprocessed;
// take must store the Example (its Pixels are take's to keep) and return
// nil, or return an error if it could not (the image then stays and is
// tried again after 1 s, 2 s, 4 s, … up to 5 min). Only after take
// returned nil is the file moved to done/. Files that cannot be used are
// moved to rejected/ with a reason, and files whose hash Options.Seen knows
// are moved to done/ without calling take. See the package documentation.
//
// Folders are watched with fsnotify, and looked at in full every
// Options.Rescan as well; if fsnotify cannot be used, they are looked at
// every 2 s. Nothing is fatal: every failure is logged and Run goes on.
// When Run returns, no goroutine of its own is left. A take in progress is
// not interrupted; ctx is checked between files.
//
// Run must not be called again before it returns (it panics if it is).
func (in *Inbox) Run(ctx context.Context, take func(Example) error) error {
	if take == nil {
		panic("labels: Run with a nil take")
	}
	if !in.running.CompareAndSwap(false, true) {
		panic("labels: Run called while already running")
	}
	defer in.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	in.recoverIntake()
	r := runner{in: in}
	defer r.stop()
	r.startWatch()
	// Listing after the watch is set up: a file arriving in between is seen
	// twice, which is harmless, rather than not at all.
	in.scan(&r)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := in.process(ctx, take)
		if ctx.Err() != nil {
			return nil
		}
		var wake <-chan time.Time
		if ok {
			timer.Reset(max(time.Until(next), 0))
			wake = timer.C
		}
		var events <-chan fsnotify.Event
		var errs <-chan error
		if r.w != nil {
			events, errs = r.w.Events, r.w.Errors
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				r.lost("labels: fsnotify stopped; polling instead")
				in.scan(&r)
				break
			}
			in.event(&r, ev)
		case err, ok := <-errs:
			if !ok {
				r.lost("labels: fsnotify stopped; polling instead")
				in.scan(&r)
				break
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				in.log.Warn().Msg("labels: fsnotify queue overflowed; looking at the folders again")
				in.scan(&r)
				break
			}
			in.log.Warn().Err(err).Msg("labels: fsnotify error")
		case <-r.ticker.C:
			in.scan(&r)
		case <-wake:
		}
		timer.Stop()
	}
}

// runner is what one Run call set up: the fsnotify watcher (nil while
// polling) and the rescan ticker.
type runner struct {
	in     *Inbox
	w      *fsnotify.Watcher
	ticker *time.Ticker
	every  time.Duration
}

// startWatch watches the class folders, or starts polling if it cannot.
func (r *runner) startWatch() {
	in := r.in
	w, err := in.newWatcher()
	if err == nil {
		for dir := range in.watched {
			if err = w.Add(dir); err != nil {
				break
			}
		}
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		r.poll()
		in.log.Warn().Err(err).Dur("poll", r.every).Msg("labels: cannot watch the folders; polling instead")
		return
	}
	r.w = w
	r.setTicker(in.opt.Rescan)
}

// poll gives fsnotify up: the folders are looked at every 2 s.
func (r *runner) poll() {
	if r.w != nil {
		r.w.Close()
		r.w = nil
	}
	r.setTicker(min(pollEvery, r.in.opt.Rescan))
}

// lost gives fsnotify up, logging msg.
func (r *runner) lost(msg string) {
	r.poll()
	r.in.log.Warn().Dur("poll", r.every).Msg(msg)
}

func (r *runner) setTicker(every time.Duration) {
	if r.ticker == nil {
		r.ticker = time.NewTicker(every)
	} else if every != r.every {
		r.ticker.Reset(every)
	}
	r.every = every
}

func (r *runner) stop() {
	if r.w != nil {
		r.w.Close() // waits for fsnotify's goroutine to end
		r.w = nil
	}
	if r.ticker != nil {
		r.ticker.Stop()
	}
}

// event notes one fsnotify event.
func (in *Inbox) event(r *runner, ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if class, ok := in.watched[name]; ok {
		// The class folder itself was removed or moved away: fsnotify has
		// dropped its watch. Make it again and watch it.
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			in.log.Warn().Str("class", class).Msg("labels: class folder removed or moved; making it again")
			in.restore(r, class)
		}
		return
	}
	class, ok := in.watched[filepath.Dir(name)]
	if !ok {
		return
	}
	base := filepath.Base(name)
	if ignored(base) {
		return
	}
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) {
		// Remove, or Rename away (our own moves to done/ too): the name
		// is gone, unless it came back since.
		if e := in.pending[class+"/"+base]; e != nil {
			e.due = time.Time{}
		}
		return
	}
	// Create and Write mean new contents even if size and modification
	// time look the same (a coarse clock); Chmod only asks for a look.
	in.notice(class, base, ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write))
}

// notice makes class/name pending (if it is not), to be looked at now. If
// changed, what was seen of it before is forgotten, so that it settles
// afresh.
func (in *Inbox) notice(class, name string, changed bool) {
	rel := class + "/" + name
	e := in.pending[rel]
	if e == nil {
		in.seq++
		e = &entry{class: class, name: name, rel: rel, seq: in.seq}
		in.pending[rel] = e
		in.pendingN.Store(int64(len(in.pending)))
	}
	if changed {
		e.observed = false
	}
	e.due = time.Time{}
}

// forget drops e from the pending files.
func (in *Inbox) forget(e *entry) {
	delete(in.pending, e.rel)
	in.pendingN.Store(int64(len(in.pending)))
}

// scan makes every file in the class folders pending, in name order,
// remaking (and watching again) a class folder that went missing or was
// replaced by a link (which is not followed: see ensureDir). Folders
// inside a class folder are found to be folders, and left alone, by step.
func (in *Inbox) scan(r *runner) {
	for _, class := range in.classes {
		names, err := in.tree.readDirNames(class)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			in.log.Warn().Str("class", class).Msg("labels: class folder missing; making it again")
			in.restore(r, class)
			names, err = in.tree.readDirNames(class)
		case classGone(err):
			in.restore(r, class)
			names, err = in.tree.readDirNames(class)
		}
		if err != nil {
			in.log.Error().Err(err).Str("class", class).Msg("labels: cannot list class folder")
			continue
		}
		slices.Sort(names)
		for _, name := range names {
			if ignored(name) {
				continue
			}
			if in.pending[class+"/"+name] == nil {
				in.notice(class, name, false)
			}
		}
	}
}

// restore makes the class folder again, moving aside whatever took its
// place, and watches it.
func (in *Inbox) restore(r *runner, class string) {
	if err := in.ensureDir(class); err != nil {
		in.log.Error().Err(err).Str("class", class).Msg("labels: cannot make class folder")
		return
	}
	if r.w == nil {
		return
	}
	if err := r.w.Add(filepath.Join(in.dir, class)); err != nil {
		r.lost("labels: cannot watch the class folder again (" + err.Error() + "); polling instead")
	}
}

// process looks at every pending file that is due, in the order they were
// noticed, and returns when the next one is due (ok is false if none is
// pending).
func (in *Inbox) process(ctx context.Context, take func(Example) error) (next time.Time, ok bool) {
	now := time.Now()
	in.due = in.due[:0]
	for _, e := range in.pending {
		if !e.due.After(now) {
			in.due = append(in.due, e)
		}
	}
	slices.SortFunc(in.due, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	for _, e := range in.due {
		if ctx.Err() != nil {
			break
		}
		in.step(e, take)
	}
	clear(in.due)
	first := true
	for _, e := range in.pending {
		if first || e.due.Before(next) {
			next, first = e.due, false
		}
	}
	return next, !first
}
