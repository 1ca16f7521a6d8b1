package fswatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"catd/internal/regfile"

	"catd/internal/testwait"
)

const (
	debounce = 50 * time.Millisecond
	// quiet is how long a "nothing is delivered" check waits: three
	// debounce periods, enough for a wrongly scheduled read to show.
	quiet = 3 * debounce
	// patience is how long a delivery that must come is waited for.
	patience = 5 * time.Second
)

// delivery is one call of the callback.
type delivery struct {
	data, reason string
}

// syncBuffer is a bytes.Buffer safe for the logger (Run's goroutine) and
// the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines that contain every one of subs.
func (b *syncBuffer) lines(subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		if line != "" && !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(line, s) }) {
			out = append(out, line)
		}
	}
	return out
}

// harness runs a Watcher on a file under t.TempDir.
type harness struct {
	t    *testing.T
	dir  string // the temporary directory
	path string // the watched path
	w    *Watcher
	got  chan delivery
	logs *syncBuffer
	stop func() error // cancels Run and returns what it returned
	// reads counts the reads that found the bytes unchanged when Run was
	// ready (Run looks once as it starts).
	reads int
}

// start makes a Watcher on path with Debounce = debounce, lets adjust
// change it before Run, starts Run and waits until its watches are set up.
func start(t *testing.T, dir, path string, opt Options, adjust func(*Watcher)) *harness {
	t.Helper()
	logs := &syncBuffer{}
	opt.Log = zerolog.New(logs).Level(zerolog.DebugLevel)
	if opt.Debounce == 0 {
		opt.Debounce = debounce
	}
	w, err := New(path, opt)
	if err != nil {
		t.Fatalf("New(%s): %v", path, err)
	}
	ready := make(chan struct{})
	w.testReady = func() { close(ready) }
	if adjust != nil {
		adjust(w)
	}
	h := &harness{t: t, dir: dir, path: path, w: w, got: make(chan delivery, 100), logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(data []byte, reason string) {
			h.got <- delivery{string(data), reason}
		})
	}()
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(patience):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs.lines())
		}
	})
	select {
	case <-ready:
	case <-time.After(patience):
		t.Fatal("Run did not set its watches up")
	}
	h.reads = len(logs.lines("contents unchanged"))
	return h
}

// next waits for the next delivery.
func (h *harness) next() delivery {
	h.t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(patience):
		h.t.Fatalf("no delivery within %v", patience)
		return delivery{}
	}
}

// expect waits for the next delivery and checks it; reason may list
// acceptable reasons separated by "|".
func (h *harness) expect(data, reason string) {
	h.t.Helper()
	d := h.next()
	if d.data != data || !slices.Contains(strings.Split(reason, "|"), d.reason) {
		h.t.Fatalf("got (%q, %q), want (%q, %q)", d.data, d.reason, data, reason)
	}
}

// none checks that nothing is delivered for a while.
func (h *harness) none() {
	h.t.Helper()
	select {
	case d := <-h.got:
		h.t.Fatalf("unexpected delivery (%q, %q)", d.data, d.reason)
	case <-time.After(quiet):
	}
}

// waitLog waits for a log line that contains every one of subs.
func (h *harness) waitLog(subs ...string) {
	h.t.Helper()
	if !testwait.Until(patience, func() bool { return len(h.logs.lines(subs...)) > 0 }) {
		h.t.Fatalf("no log line with %q within %v", subs, patience)
	}
}

// noRead checks that the file was not read (and found unchanged) since Run
// started: a read that finds the same bytes delivers nothing,
// so "no delivery" alone cannot tell an ignored event from a wasted read.
func (h *harness) noRead() {
	h.t.Helper()
	if l := h.logs.lines("contents unchanged"); len(l) > h.reads {
		h.t.Fatalf("the file was read after an event that does not concern it: %s", l)
	}
}

// write writes the file at path (relative to the temporary directory).
func (h *harness) write(path, data string) {
	h.t.Helper()
	write(h.t, filepath.Join(h.dir, path), data)
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}

// plainFile lays out dir/catd.yaml with "v: 1\n" and returns its path.
func plainFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "catd.yaml")
	write(t, p, "v: 1\n")
	return p
}

// linkedFile lays out dir/catd.yaml -> a/catd.yaml ("v: 1\n"), next to
// b/catd.yaml ("v: 2\n"), and returns the link's path.
func linkedFile(t *testing.T, dir string) string {
	for sub, data := range map[string]string{"a": "v: 1\n", "b": "v: 2\n"} {
		mkdir(t, filepath.Join(dir, sub))
		write(t, filepath.Join(dir, sub, "catd.yaml"), data)
	}
	p := filepath.Join(dir, "catd.yaml")
	symlink(t, "a/catd.yaml", p)
	return p
}

// configMap lays out a Kubernetes-style volume: dir/catd.yaml ->
// ..data/catd.yaml, ..data -> ..v1, ..v1/catd.yaml ("v: 1\n").
func configMap(t *testing.T, dir string) string {
	mkdir(t, filepath.Join(dir, "..v1"))
	write(t, filepath.Join(dir, "..v1", "catd.yaml"), "v: 1\n")
	symlink(t, "..v1", filepath.Join(dir, "..data"))
	p := filepath.Join(dir, "catd.yaml")
	symlink(t, "..data/catd.yaml", p)
	return p
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) string // lays files out, returns the path to watch
		act     func(h *harness)                      // changes files and checks what is delivered
	}{
		{
			name:    "plain write",
			prepare: plainFile,
			act: func(h *harness) {
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonChanged)
			},
		},
		{
			name:    "truncate then write in two steps",
			prepare: plainFile,
			act: func(h *harness) {
				f, err := os.OpenFile(h.path, os.O_WRONLY, 0)
				if err != nil {
					h.t.Fatal(err)
				}
				if err := f.Truncate(0); err != nil {
					h.t.Fatal(err)
				}
				for _, chunk := range []string{"v: ", "2\n"} {
					if _, err := f.WriteString(chunk); err != nil {
						h.t.Fatal(err)
					}
				}
				if err := f.Close(); err != nil {
					h.t.Fatal(err)
				}
				h.expect("v: 2\n", ReasonChanged)
			},
		},
		{
			name:    "rename over (vim, sed -i)",
			prepare: plainFile,
			act: func(h *harness) {
				h.write(".catd.yaml.swp", "v: 2\n")
				rename(h.t, filepath.Join(h.dir, ".catd.yaml.swp"), h.path)
				h.expect("v: 2\n", ReasonChanged)
				// The watch must survive the old inode going away.
				h.write("catd.yaml", "v: 3\n")
				h.expect("v: 3\n", ReasonChanged)
			},
		},
		{
			name:    "remove then create",
			prepare: plainFile,
			act: func(h *harness) {
				remove(h.t, h.path)
				h.write("catd.yaml", "v: 2\n")
				// One burst normally; "created" if the removal was read
				// on its own (a slow machine, qemu).
				h.expect("v: 2\n", ReasonChanged+"|"+ReasonCreated)
			},
		},
		{
			name:    "symlink swapped atomically",
			prepare: linkedFile,
			act: func(h *harness) {
				symlink(h.t, "b/catd.yaml", h.path+".new")
				rename(h.t, h.path+".new", h.path)
				h.expect("v: 2\n", ReasonSymlink)
			},
		},
		{
			name:    "symlink target edited in place, then swapped",
			prepare: linkedFile,
			act: func(h *harness) {
				h.write("a/catd.yaml", "v: 1.1\n")
				h.expect("v: 1.1\n", ReasonChanged)
				symlink(h.t, "b/catd.yaml", h.path+".new")
				rename(h.t, h.path+".new", h.path)
				h.expect("v: 2\n", ReasonSymlink)
				// The old target no longer matters, the new one does.
				h.write("a/catd.yaml", "v: 1.2\n")
				h.none()
				h.write("b/catd.yaml", "v: 2.1\n")
				h.expect("v: 2.1\n", ReasonChanged)
			},
		},
		{
			name:    "symlink to a file in the same directory",
			prepare: plainFile,
			act: func(h *harness) {
				// Replace the file by a link to a sibling: a rename over.
				h.write("catd-v2.yaml", "v: 2\n")
				symlink(h.t, "catd-v2.yaml", h.path+".new")
				rename(h.t, h.path+".new", h.path)
				h.expect("v: 2\n", ReasonSymlink)
				h.write("catd-v2.yaml", "v: 2.1\n")
				h.expect("v: 2.1\n", ReasonChanged)
			},
		},
		{
			name:    "Kubernetes ..data swap",
			prepare: configMap,
			act: func(h *harness) {
				// What the kubelet does: new directory, new ..data link
				// renamed over the old one, old directory removed.
				mkdir(h.t, filepath.Join(h.dir, "..v2"))
				h.write("..v2/catd.yaml", "v: 2\n")
				symlink(h.t, "..v2", filepath.Join(h.dir, "..data_tmp"))
				rename(h.t, filepath.Join(h.dir, "..data_tmp"), filepath.Join(h.dir, "..data"))
				h.expect("v: 2\n", ReasonSymlink)
				remove(h.t, filepath.Join(h.dir, "..v1"))
				h.none()
				// The new target's directory is watched.
				h.write("..v2/catd.yaml", "v: 2.1\n")
				h.expect("v: 2.1\n", ReasonChanged)
			},
		},
		{
			name:    "identical bytes are not delivered",
			prepare: plainFile,
			act: func(h *harness) {
				h.write("catd.yaml", "v: 1\n")
				h.none()
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonChanged)
				h.write("catd.yaml", "v: 2\n")
				h.none()
			},
		},
		{
			name:    "Reload delivers unchanged bytes",
			prepare: plainFile,
			act: func(h *harness) {
				h.w.Reload()
				h.expect("v: 1\n", ReasonReload)
				h.none()
				h.w.Reload()
				h.expect("v: 1\n", ReasonReload)
			},
		},
		{
			name:    "empty file is skipped, then content",
			prepare: plainFile,
			act: func(h *harness) {
				h.write("catd.yaml", "")
				h.waitLog(`"level":"debug"`, "file is empty")
				h.none()
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonChanged)
			},
		},
		{
			name:    "deleted, then re-created",
			prepare: plainFile,
			act: func(h *harness) {
				remove(h.t, h.path)
				h.waitLog("file is gone")
				h.none()
				h.write("other.yaml", "x") // more events in the directory
				h.w.Reload()               // and another look
				h.none()
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonCreated)
				if n := len(h.logs.lines(`"level":"warn"`, "file is gone")); n != 1 {
					h.t.Errorf("the vanished file was logged %d times at warn level, want 1", n)
				}
				if n := len(h.logs.lines(`"level":"error"`)); n != 0 {
					h.t.Errorf("errors logged: %s", h.logs.lines(`"level":"error"`))
				}
			},
		},
		{
			name:    "deleted, then re-created with the same bytes",
			prepare: plainFile,
			act: func(h *harness) {
				remove(h.t, h.path)
				h.none()
				h.write("catd.yaml", "v: 1\n")
				h.none()
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonChanged)
			},
		},
		{
			name: "created after New",
			prepare: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "catd.yaml")
			},
			act: func(h *harness) {
				h.write("catd.yaml", "v: 1\n")
				h.expect("v: 1\n", ReasonCreated)
				if l := h.logs.lines(`"level":"warn"`); len(l) != 0 {
					h.t.Errorf("a file absent from the start was warned about: %s", l)
				}
			},
		},
		{
			name:    "other files in the directory",
			prepare: plainFile,
			act: func(h *harness) {
				h.write("other.yaml", "v: 2\n")
				h.write("catd.yaml.bak", "v: 2\n")
				h.write(".catd.yaml.swp", "v: 2\n")
				mkdir(h.t, filepath.Join(h.dir, "sub"))
				h.write("sub/catd.yaml", "v: 2\n")
				remove(h.t, filepath.Join(h.dir, "other.yaml"))
				h.none()
				h.noRead()
				h.write("catd.yaml", "v: 3\n")
				h.expect("v: 3\n", ReasonChanged)
			},
		},
		{
			name:    "chmod is ignored",
			prepare: plainFile,
			act: func(h *harness) {
				if err := os.Chmod(h.path, 0o600); err != nil {
					h.t.Fatal(err)
				}
				h.none()
				h.noRead()
			},
		},
		{
			name:    "burst of 20 writes",
			prepare: plainFile,
			act: func(h *harness) {
				for i := range 20 {
					h.write("catd.yaml", fmt.Sprintf("v: %d\n", 100+i))
				}
				var got []delivery
				for {
					d := h.next()
					got = append(got, d)
					if d.data == "v: 119\n" {
						break
					}
					if len(got) == 2 {
						h.t.Fatalf("deliveries %q do not end with the final bytes", got)
					}
				}
				h.none()
			},
		},
		{
			name:    "unreadable (a directory), then a file again",
			prepare: plainFile,
			act: func(h *harness) {
				remove(h.t, h.path)
				mkdir(h.t, h.path)
				h.waitLog(`"level":"error"`, `"path":"`+h.path+`"`, "not a regular file")
				h.none()
				remove(h.t, h.path)
				h.write("catd.yaml", "v: 2\n")
				h.expect("v: 2\n", ReasonChanged+"|"+ReasonCreated)
			},
		},
		{
			name:    "permission denied, then readable",
			prepare: plainFile,
			act: func(h *harness) {
				if os.Geteuid() == 0 {
					h.t.Skip("root reads files whatever their permissions")
				}
				h.write("catd.yaml", "v: 2\n")
				if err := os.Chmod(h.path, 0); err != nil {
					h.t.Fatal(err)
				}
				h.waitLog(`"level":"error"`, `"path":"`+h.path+`"`, "permission denied")
				h.none()
				// Made readable, with no change of contents: the bytes
				// that could not be read are delivered now.
				if err := os.Chmod(h.path, 0o644); err != nil {
					h.t.Fatal(err)
				}
				h.expect("v: 2\n", ReasonChanged)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.prepare(t, dir)
			h := start(t, dir, path, Options{}, nil)
			tt.act(h)
			h.none()
		})
	}
}

// TestReadFailureRetried: contents that changed while the file could not
// be read (permission denied; simulated, since the tests may run as root)
// are delivered once it can be read again, without another change: on the
// chmod's event, or by the retry every second when no event comes.
func TestReadFailureRetried(t *testing.T) {
	tests := []struct {
		name       string
		retryEvery time.Duration
		fix        func(h *harness) // after the fault is gone
	}{
		{"a chmod makes it readable", time.Hour, func(h *harness) {
			if err := os.Chmod(h.path, 0o640); err != nil {
				h.t.Fatal(err)
			}
		}},
		{"no event: retried", debounce, func(*harness) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := plainFile(t, dir)
			var denied atomic.Bool
			h := start(t, dir, path, Options{}, func(w *Watcher) {
				w.retryEvery = tt.retryEvery
				w.read = func(p string, maxSize int64) ([]byte, error) {
					if denied.Load() {
						return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
					}
					return regfile.Read(p, maxSize)
				}
			})
			denied.Store(true)
			h.write("catd.yaml", "v: 2\n")
			h.waitLog(`"level":"error"`, `"path":"`+path+`"`, "permission denied")
			h.none()
			denied.Store(false)
			tt.fix(h)
			h.expect("v: 2\n", ReasonChanged)
			// Read, and delivered: Chmod is ignored again.
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			h.none()
		})
	}
}

func TestReloadCoalesces(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	h := start(t, dir, path, Options{}, func(w *Watcher) {
		// Run has not started yet: these must not block, and make one
		// request.
		for range 1000 {
			w.Reload()
		}
	})
	h.expect("v: 1\n", ReasonReload)
	h.none()
}

func TestChangeBetweenNewAndRun(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	h := start(t, dir, path, Options{}, func(w *Watcher) {
		write(t, path, "v: 2\n")
	})
	h.expect("v: 2\n", ReasonChanged)
	h.none()
}

// TestFsnotifyUnavailable checks the fallback to polling when fsnotify
// cannot be used from the start (no inotify instances left).
func TestFsnotifyUnavailable(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	h := start(t, dir, path, Options{Poll: debounce}, func(w *Watcher) {
		w.newFS = func() (*fsnotify.Watcher, error) {
			return nil, errors.New("too many open files")
		}
	})
	if len(h.logs.lines(`"level":"warn"`, "polling instead", "too many open files")) == 0 {
		t.Errorf("the fallback was not logged")
	}
	h.write("catd.yaml", "v: 2\n")
	h.expect("v: 2\n", ReasonChanged)
	h.write("catd.yaml", "v: 2\n")
	h.none()
	remove(t, path)
	h.waitLog("file is gone")
	h.none()
	h.write("catd.yaml", "v: 3\n")
	h.expect("v: 3\n", ReasonCreated)
}

// TestFsnotifyDies checks the fallback to polling when the fsnotify
// watcher stops while Run runs.
func TestFsnotifyDies(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	made := make(chan *fsnotify.Watcher, 1)
	h := start(t, dir, path, Options{Poll: -1}, func(w *Watcher) {
		w.newFS = func() (*fsnotify.Watcher, error) {
			fw, err := fsnotify.NewWatcher()
			made <- fw
			return fw, err
		}
	})
	fw := <-made
	h.write("catd.yaml", "v: 2\n")
	h.expect("v: 2\n", ReasonChanged)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	h.write("catd.yaml", "v: 3\n")
	h.expect("v: 3\n", ReasonChanged) // by polling, within about a second
	if len(h.logs.lines(`"level":"warn"`, "watcher stopped; polling instead")) == 0 {
		t.Errorf("the fallback was not logged")
	}
}

// TestDirectoryRemoved checks that losing the watched directory is not
// fatal: Run polls, and delivers once the file is back.
func TestDirectoryRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the one-second fallback poll")
	}
	dir := filepath.Join(t.TempDir(), "etc")
	mkdir(t, dir)
	path := plainFile(t, dir)
	h := start(t, dir, path, Options{}, nil)
	remove(t, dir)
	h.waitLog("file is gone")
	h.none()
	mkdir(t, dir)
	h.write("catd.yaml", "v: 2\n")
	h.expect("v: 2\n", ReasonCreated)
	if len(h.logs.lines(`"level":"warn"`, "watched directory was removed or moved; polling instead")) == 0 {
		t.Errorf("the fallback was not logged")
	}
}

// TestPollSafetyNet swaps a link in the middle of a chain, in a directory
// that is not watched: only Options.Poll notices.
func TestPollSafetyNet(t *testing.T) {
	tests := []struct {
		name string
		poll time.Duration
		want bool
	}{
		{"off", 0, false},
		{"on", debounce, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for sub, data := range map[string]string{"a": "v: 1\n", "b": "v: 2\n"} {
				mkdir(t, filepath.Join(dir, sub))
				write(t, filepath.Join(dir, sub, "catd.yaml"), data)
			}
			mkdir(t, filepath.Join(dir, "etc"))
			mkdir(t, filepath.Join(dir, "mid"))
			symlink(t, "../a/catd.yaml", filepath.Join(dir, "mid", "link.yaml"))
			path := filepath.Join(dir, "etc", "catd.yaml")
			symlink(t, "../mid/link.yaml", path)
			h := start(t, dir, path, Options{Poll: tt.poll}, nil)
			symlink(t, "../b/catd.yaml", filepath.Join(dir, "mid", "link.new"))
			rename(t, filepath.Join(dir, "mid", "link.new"), filepath.Join(dir, "mid", "link.yaml"))
			if tt.want {
				h.expect("v: 2\n", ReasonSymlink)
			}
			h.none()
		})
	}
}

// TestRunStops checks that Run returns nil promptly when its context is
// cancelled, in every state it can be in, and leaves no goroutine behind.
func TestRunStops(t *testing.T) {
	tests := []struct {
		name   string
		opt    Options
		adjust func(*Watcher)
		act    func(h *harness)
	}{
		{name: "idle", opt: Options{}},
		{name: "safety-net polling", opt: Options{Poll: debounce}},
		{
			name: "polling only",
			adjust: func(w *Watcher) {
				w.newFS = func() (*fsnotify.Watcher, error) { return nil, errors.New("no inotify") }
			},
		},
		{
			name: "read pending",
			// A long debounce: the timer is still armed at cancel.
			opt: Options{Debounce: time.Hour},
			act: func(h *harness) { h.write("catd.yaml", "v: 2\n") },
		},
		{
			name: "symlink target watched",
			act: func(h *harness) {
				mkdir(h.t, filepath.Join(h.dir, "b"))
				h.write("b/catd.yaml", "v: 2\n")
				symlink(h.t, "b/catd.yaml", h.path+".new")
				rename(h.t, h.path+".new", h.path)
				h.expect("v: 2\n", ReasonSymlink)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			dir := t.TempDir()
			path := plainFile(t, dir)
			h := start(t, dir, path, tt.opt, tt.adjust)
			if tt.act != nil {
				tt.act(h)
			}
			began := time.Now()
			if err := h.stop(); err != nil {
				t.Fatalf("Run returned %v, want nil", err)
			}
			if d := time.Since(began); d > time.Second {
				t.Errorf("Run took %v to return", d)
			}
			testwait.Until(patience, func() bool { return runtime.NumGoroutine() <= before })
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

func TestRunCancelledBeforehand(t *testing.T) {
	dir := t.TempDir()
	w, err := New(plainFile(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Reload()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx, func(_ []byte, reason string) { t.Errorf("delivery %q", reason) }); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}

func TestRunTwice(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	h := start(t, dir, path, Options{}, nil)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "fswatch: ") {
				t.Errorf("second Run: recovered %v, want a fswatch panic", r)
			}
		}()
		h.w.Run(context.Background(), func([]byte, string) {})
	}()
	// Once stopped, Run may be called again.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.w.testReady = nil
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx, func(data []byte, _ string) { got <- string(data) }) }()
	defer func() { cancel(); <-done }()
	h.w.Reload()
	select {
	case d := <-got:
		if d != "v: 1\n" {
			t.Errorf("got %q after a restart", d)
		}
	case <-time.After(patience):
		t.Fatal("no delivery after a restart")
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "file"), "x")
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{"existing file", filepath.Join(dir, "file"), false},
		{"missing file", filepath.Join(dir, "missing.yaml"), false},
		{"missing directory", filepath.Join(dir, "nodir", "catd.yaml"), true},
		{"directory is a file", filepath.Join(dir, "file", "catd.yaml"), true},
		{"path is a directory", dir, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(tt.path, Options{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%s) error %v, want error %v", tt.path, err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "fswatch: ") {
				t.Errorf("error %q does not name the package", err)
			}
			if w != nil && w.Path() != tt.path {
				t.Errorf("Path() = %s, want %s", w.Path(), tt.path)
			}
		})
	}
}

// TestNewRelative checks that a relative path is made absolute, so that
// event names (which carry the watched directory's path) match it.
func TestNewRelative(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir)
	t.Chdir(dir)
	w, err := New("catd.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != path {
		t.Errorf("Path() = %s, want %s", w.Path(), path)
	}
}

// TestMaxSize: a file larger than Options.MaxSize is not delivered (and
// not read past MaxSize+1 bytes); the error is logged and the next file
// of a good size is delivered.
func TestMaxSize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		delivered bool
	}{
		{"at the limit", 100, true},
		{"one byte over", 101, false},
		{"a MiB over", 100 + 1<<20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := plainFile(t, dir)
			h := start(t, dir, path, Options{MaxSize: 100}, nil)
			big := strings.Repeat("x", tc.size)
			h.write("catd.yaml", big)
			if tc.delivered {
				h.expect(big, ReasonChanged)
				return
			}
			h.waitLog(`"level":"error"`, `"path":"`+h.path+`"`, "file too large: more than 100 bytes")
			h.none()
			h.write("catd.yaml", "v: 2\n")
			h.expect("v: 2\n", ReasonChanged)
		})
	}
}
