package camera

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// dirSource is the dir: source: JPEG and PNG files that appear in a folder
// (created, written, or renamed in), each delivered once when complete.
//
// It watches the folder (not the files) with fsnotify. A candidate is a
// name ending in .jpg, .jpeg, .jpe or .png that does not start with a dot
// (so "tool writes .x.jpg.tmp, renames to x.jpg" works). A candidate is read
// once its size and modification time have stayed the same for the settle
// time; it is delivered if it is a complete JPEG (whole marker structure,
// ending with FFD9) or PNG (chunks ending with IEND), and otherwise waited
// for until timeout, then counted as corrupt. A name is delivered again only
// when its content changes (or after it was removed and comes back). Files
// already in the folder at Open are not delivered.
//
// By default the source consumes what it reads, so that the folder does
// not grow without bound on an SD card: a file is removed once read
// (delivered, or counted as corrupt). Files already there at Open are
// neither read nor removed. With keep=true files are left where they are.
type dirSource struct {
	uri  string
	cfg  dirConfig
	dir  string // cleaned path, as the watcher reports it
	w    *fsnotify.Watcher
	log  rateLog
	seq  uint64
	err  error // sticky: the folder went away
	seed maphash.Seed

	pending map[string]*pendingFile
	seen    map[string]seenFile
	order   []string // scratch for sorting pending names
	timer   *time.Timer

	rmLog rateLog // a file that could not be removed

	frames, corrupt atomic.Uint64
	done            chan struct{}
	closeOnce       sync.Once
}

// pendingFile is a candidate waiting to settle.
type pendingFile struct {
	size     int64
	mtime    time.Time
	since    time.Time // when size and mtime were first seen as they are
	complete time.Time // when first found settled but incomplete (zero before)
}

// seenFile remembers a delivered (or pre-existing, or rejected) file.
type seenFile struct {
	size   int64
	mtime  time.Time
	sum    uint64
	hasSum bool
}

func openDir(uri string, c dirConfig, log zerolog.Logger) (*dirSource, error) {
	st, err := os.Stat(c.path)
	if errors.Is(err, os.ErrNotExist) {
		// The folder is where other programs will drop images: make it
		// (with its parents), group-writable as far as the umask allows,
		// so that a tool in catd's group can write there.
		if err = os.MkdirAll(c.path, 0o770); err != nil {
			return nil, fmt.Errorf("make folder %s: %w", c.path, err)
		}
		log.Info().Str("source", uri).Str("folder", c.path).Msg("camera: made the folder to watch")
		st, err = os.Stat(c.path)
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", c.path)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", c.path, err)
	}
	dir := filepath.Clean(c.path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", c.path, err)
	}
	s := &dirSource{
		uri: uri, cfg: c, dir: dir, w: w,
		log:     rateLog{log: log, every: corruptLogEvery, now: time.Now},
		rmLog:   rateLog{log: log, every: corruptLogEvery, now: time.Now},
		seed:    maphash.MakeSeed(),
		pending: make(map[string]*pendingFile),
		seen:    make(map[string]seenFile),
		timer:   time.NewTimer(time.Hour),
		done:    make(chan struct{}),
	}
	s.timer.Stop()
	// Files already there are not new. (Watching first, then listing, means
	// a file that appears in between is still seen: it is pending, and
	// delivered unless it is listed here unchanged.)
	ents, err := os.ReadDir(dir)
	if err != nil {
		w.Close()
		return nil, err
	}
	for _, e := range ents {
		if !candidate(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			s.seen[e.Name()] = seenFile{size: info.Size(), mtime: info.ModTime()}
		}
	}
	if n := len(s.seen); n > 0 && !c.keep {
		log.Info().Str("source", uri).Int("files", n).
			Msg("camera: images already in the folder are left alone (not frames, not removed)")
	}
	return s, nil
}

// candidate reports whether a file name in the folder may be an image to
// deliver.
func candidate(name string) bool {
	return imageExt(name) && !strings.HasPrefix(name, ".")
}

func (s *dirSource) String() string { return s.uri }

func (s *dirSource) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Corrupt: s.corrupt.Load()}
}

func (s *dirSource) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.w.Close()
	})
	return err
}

func (s *dirSource) Next(ctx context.Context, f *Frame) error {
	for {
		if s.err != nil {
			return s.err
		}
		select {
		case <-s.done:
			return ErrClosed
		default:
		}
		if s.check(f) {
			return nil
		}
		var tick <-chan time.Time
		if len(s.pending) > 0 {
			s.timer.Reset(max(s.cfg.settle/2, time.Millisecond))
			tick = s.timer.C
		}
		select {
		case <-ctx.Done():
			s.timer.Stop()
			return ctx.Err()
		case <-s.done:
			s.timer.Stop()
			return ErrClosed
		case ev, ok := <-s.w.Events:
			s.timer.Stop()
			if !ok {
				return s.watchClosed()
			}
			s.event(ev)
		case err, ok := <-s.w.Errors:
			s.timer.Stop()
			if !ok {
				return s.watchClosed()
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				s.log.log.Warn().Str("source", s.uri).Msg("camera: watch queue overflowed, rescanning folder")
				s.rescan()
				continue
			}
			s.log.log.Warn().Str("source", s.uri).Err(err).Msg("camera: watch error")
		case <-tick:
		}
	}
}

func (s *dirSource) watchClosed() error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	s.err = fmt.Errorf("camera: %s: watch on %s stopped", s.uri, s.dir)
	return s.err
}

// event notes one change in the folder.
func (s *dirSource) event(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if name == s.dir {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			s.err = fmt.Errorf("camera: %s: folder %s was removed or moved", s.uri, s.dir)
		}
		return
	}
	if filepath.Dir(name) != s.dir {
		return
	}
	base := filepath.Base(name)
	if !candidate(base) {
		return
	}
	switch {
	case ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write):
		if _, ok := s.pending[base]; !ok {
			s.pending[base] = &pendingFile{size: -1}
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		delete(s.pending, base)
		delete(s.seen, base)
	}
}

// rescan makes every candidate in the folder pending, after events were lost.
func (s *dirSource) rescan() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		s.err = fmt.Errorf("camera: %s: folder %s: %w", s.uri, s.dir, err)
		return
	}
	for _, e := range ents {
		if candidate(e.Name()) && s.pending[e.Name()] == nil {
			s.pending[e.Name()] = &pendingFile{size: -1}
		}
	}
}

// check looks at the pending files in name order and delivers the first
// one that is settled, complete and new into f.
func (s *dirSource) check(f *Frame) bool {
	if len(s.pending) == 0 {
		return false
	}
	s.order = s.order[:0]
	for name := range s.pending {
		s.order = append(s.order, name)
	}
	slices.Sort(s.order)
	now := time.Now()
	for _, name := range s.order {
		p := s.pending[name]
		full := filepath.Join(s.dir, name)
		st, err := os.Stat(full)
		if err != nil || !st.Mode().IsRegular() {
			delete(s.pending, name)
			continue
		}
		if st.Size() != p.size || !st.ModTime().Equal(p.mtime) {
			p.size, p.mtime, p.since, p.complete = st.Size(), st.ModTime(), now, time.Time{}
			continue
		}
		if now.Sub(p.since) < s.cfg.settle {
			continue
		}
		old, known := s.seen[name]
		if known && old.size == p.size && old.mtime.Equal(p.mtime) {
			delete(s.pending, name) // unchanged since delivered or listed
			continue
		}
		var format Format
		data, st2, err := readFileInto(f.Data, full, s.cfg.maxFrame)
		f.Data = data
		if err == nil && (st2.Size() != p.size || !st2.ModTime().Equal(p.mtime)) {
			continue // changed while we looked: settle again
		}
		if err == nil {
			format, err = checkImage(data)
		}
		if err != nil {
			if p.complete.IsZero() {
				p.complete = now
			}
			if now.Sub(p.complete) >= s.cfg.timeout {
				delete(s.pending, name)
				s.seen[name] = seenFile{size: p.size, mtime: p.mtime}
				s.seq++
				s.log.corrupt(&s.corrupt, s.uri, s.seq, fmt.Errorf("%s: %w", full, err))
				s.consume(full)
			}
			continue
		}
		delete(s.pending, name)
		s.consume(full)
		sum := maphash.Bytes(s.seed, data)
		s.seen[name] = seenFile{size: p.size, mtime: p.mtime, sum: sum, hasSum: true}
		if known && old.hasSum && old.sum == sum {
			continue // rewritten with the same bytes
		}
		s.seq++
		f.Seq, f.Time, f.Format, f.W, f.H, f.Stride = s.seq, p.mtime, format, 0, 0, 0
		s.frames.Add(1)
		return true
	}
	return false
}

// consume removes a file the source has read, unless keep is set. A file
// that cannot be removed stays (logged, rate-limited), and is not read
// again unless its content changes.
func (s *dirSource) consume(path string) {
	if s.cfg.keep {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		r := &s.rmLog
		if now := r.now(); r.last.IsZero() || now.Sub(r.last) >= r.every {
			r.log.Warn().Str("source", s.uri).Err(err).Int("suppressed", r.suppressed).
				Msg("camera: a file read from the folder could not be removed; the folder grows (keep=true says so on purpose)")
			r.last, r.suppressed = now, 0
		} else {
			r.suppressed++
		}
	}
}
