//go:build unix

package daemon

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rs/zerolog"

	"catd/camera"
	"catd/config"
	"catd/state"

	"catd/internal/testwait"
)

// returnsWithin fails t if fn has not returned after a few seconds: the
// cases that use it used to block for ever.
func returnsWithin(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still blocked after 10 s", what)
	}
}

// allocated returns the bytes fn allocates (runtime.MemStats.TotalAlloc).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileModelFiles: a model path (run --model, the model: key, live)
// that is a named pipe, a link to /dev/zero or a file whose header length
// says 95 MB is refused at once, naming the file, at the cost of a few
// bytes: reading it used to block for ever, or to read the whole file and
// then the header into memory.
func TestHostileModelFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.safetensors")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge-header.safetensors")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	const headerLen = 95_000_000
	if _, err := f.Write(binary.LittleEndian.AppendUint64(nil, headerLen)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 + headerLen); err != nil { // sparse: no disk space
		t.Fatal(err)
	}
	f.Close()

	for _, tc := range []struct {
		name, path, want string
	}{
		{"named pipe", fifo, "is a named pipe (FIFO)"},
		{"link to /dev/zero", zero, "is a character device"},
		{"95 MB header", huge, "header length 95000000 exceeds the limit of 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &service{}
			var (
				err error
				n   uint64
			)
			returnsWithin(t, "loading "+tc.path, func() {
				n = allocated(func() { _, err = s.loadModel(tc.path) })
			})
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
			if n > 1<<20 {
				t.Errorf("refusing it allocated %d bytes, want under 1 MiB", n)
			}
			t.Logf("%d bytes allocated: %v", n, err)
		})
	}
}

// replaceWith puts what make makes at path, by a rename as editors save.
func replaceWith(t *testing.T, path string, make func(tmp string) error) {
	t.Helper()
	tmp := path + ".new"
	os.Remove(tmp)
	if err := make(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// hostileConfigs are what a config path can turn into: each is refused on
// SIGHUP and the serial reload command as at start, at once, with an error
// naming the file and saying what.
var hostileConfigs = []struct {
	name  string
	place func(tmp string) error
	says  string
}{
	{"named pipe", func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) }, "is a named pipe (FIFO): not a regular file"},
	{"link to /dev/zero", func(tmp string) error { return os.Symlink("/dev/zero", tmp) }, "is a character device: not a regular file"},
	{"2 MiB", func(tmp string) error {
		// Valid, and a change: at start it would be refused, so it must
		// not apply live either (it used to, through the watcher).
		head := "source: file:/fake/dark\ndetect:\n  threshold: 0.9\n#"
		return os.WriteFile(tmp, []byte(head+strings.Repeat("x", 2<<20-len(head))), 0o644)
	}, "file too large: more than 1048576 bytes"},
}

// TestReloadRefusesHostileConfigFiles: the config file replaced by a
// named pipe (SIGHUP used to block for ever, and with it SIGTERM and the
// shutdown checkpoint), a link to /dev/zero (read without end) or a 2 MiB
// file (applied live by the watcher, then refused at the next start): the
// watcher logs and skips it, SIGHUP refuses it at once with a
// config_refused event and status.json's config_error naming the file,
// frames go on, the old config stays, and catd stops cleanly.
func TestReloadRefusesHostileConfigFiles(t *testing.T) {
	for _, tc := range hostileConfigs {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
			replaceWith(t, r.cfgPath, tc.place)
			testwait.For(t, "the watcher's error", func() bool {
				return strings.Contains(r.logs.String(), tc.says)
			})
			r.reload <- syscall.SIGHUP
			ev := r.event(EventConfigRefused)
			if !strings.Contains(ev.Msg, r.cfgPath) || !strings.Contains(ev.Msg, tc.says) {
				t.Errorf("refusal %q, want one naming %s and saying %q", ev.Msg, r.cfgPath, tc.says)
			}
			st := r.status(func(s *Status) bool { return s.ConfigError != "" })
			if !strings.Contains(st.ConfigError, tc.says) {
				t.Errorf("status config_error %q", st.ConfigError)
			}
			r.frames(3)
			if strings.Contains(r.logs.String(), "config applied") {
				t.Errorf("a config was applied:\n%s", r.logs.String())
			}
			if thr := r.ctl.Snapshot().Threshold; thr != 0.5 {
				t.Errorf("threshold %v, want the model's 0.5: the old config", thr)
			}
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSerialReloadRefusesHostileConfigFiles: the serial console's reload
// command answers ERR at once, naming the file, and the console goes on
// answering (a named pipe used to leave it waiting for ever).
func TestSerialReloadRefusesHostileConfigFiles(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	for _, tc := range hostileConfigs {
		t.Run(tc.name, func(t *testing.T) {
			master, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer master.Close()
			defer tty.Close()
			lines := make(chan string, 1024)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(master)
				for sc.Scan() {
					lines <- strings.TrimRight(sc.Text(), "\r")
				}
			}()
			r := newRig(t)
			r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nserial:\n  port: %s\n", r.model, tty.Name()))
			testwait.For(t, "the serial console", func() bool { return strings.Contains(r.logs.String(), "serial console open") })
			replaceWith(t, r.cfgPath, tc.place)
			// reply returns the next line that answers a command.
			reply := func() string {
				t.Helper()
				for {
					select {
					case l := <-lines:
						if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERR") {
							return l
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("no reply within 10 s\n%s", r.logs.String())
					}
				}
			}
			if _, err := master.Write([]byte("reload\r\n")); err != nil {
				t.Fatal(err)
			}
			if l := reply(); !strings.HasPrefix(l, "ERR reload: ") || !strings.Contains(l, r.cfgPath) || !strings.Contains(l, tc.says) {
				t.Errorf("reply %q, want ERR naming %s and saying %q", l, r.cfgPath, tc.says)
			}
			if _, err := master.Write([]byte("version\r\n")); err != nil {
				t.Fatal(err)
			}
			if l := reply(); !strings.HasPrefix(l, "OK catd") {
				t.Errorf("the console's next reply %q", l)
			}
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestShutdownCheckpoint: a shutdown checkpoint that cannot be written
// (here the checkpoint directory has turned into a file) used to be one
// log line before a clean "stopped" and exit status 0. Now Run fails with
// an error that says the learnt weights are lost (catd exits 1, systemd
// marks the unit failed), and the summary line is logged at error level.
func TestShutdownCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name        string
		dirty       bool
		broken      bool
		runErr      error
		wantErr     string // "" for nil
		wantSummary string // the summary line's level and message
	}{
		{"nothing to save", false, false, nil, "", `"level":"info","state_bytes_written":0`},
		{"saved", true, false, nil, "", `"level":"info","state_bytes_written":`},
		{"not saved", true, true, nil, "daemon: shutdown checkpoint not written, the weights learnt since the last checkpoint are lost: state: checkpoint directory:",
			`"level":"error"`},
		{"not saved after a source failure", true, true, errors.New("daemon: source gone"), "daemon: source gone\ndaemon: shutdown checkpoint not written", `"level":"error"`},
		{"nothing to save after a source failure", false, true, errors.New("daemon: source gone"), "daemon: source gone", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "checkpoints")
			logs := &syncBuffer{}
			s := &service{log: zerolog.New(logs), started: time.Now()}
			cp, err := state.OpenCheckpoints(dir, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.ckpts.Store(cp)
			m, err := s.loadModel("")
			if err != nil {
				t.Fatal(err)
			}
			s.model.Store(m)
			empty := ""
			s.checkpoint.Store(&empty)
			s.dirty.Store(tc.dirty)
			if tc.broken {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err = s.shutdown(tc.runErr)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)) {
				t.Fatalf("shutdown: %v; want %q", err, tc.wantErr)
			}
			if tc.runErr != nil && !errors.Is(err, tc.runErr) {
				t.Errorf("shutdown: %v does not wrap the run's error", err)
			}
			var summary string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"message":"stopped`) {
					summary = l
				}
			}
			if tc.wantSummary == "" && summary != "" || !strings.Contains(summary, tc.wantSummary) {
				t.Errorf("summary line %q, want one with %q\n%s", summary, tc.wantSummary, logs.String())
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*")); tc.dirty && !tc.broken && len(files) != 1 {
				t.Errorf("checkpoints %q, want the shutdown one", files)
			}
		})
	}
}

// TestOneCatdPerStateDirectory: a second Run on a state directory in use
// fails at once, naming the directory and the first one's PID, and leaves
// the first running; two used to share it (both taking labels, both
// training, their checkpoint generations interleaved). Once the first has
// returned, a new Run starts on it.
func TestOneCatdPerStateDirectory(t *testing.T) {
	r := newRig(t)
	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\n", r.model))
	stateDir := filepath.Join(r.dir, "state")
	opt := func(logs *syncBuffer, ctl *Control) Options {
		cfg, _, err := config.Load(r.cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		return Options{Config: cfg, StateDir: stateDir, Log: zerolog.New(logs), Control: ctl,
			OpenSource: func(uri string, _ zerolog.Logger) (camera.Source, error) {
				return &steadySource{name: uri, pix: 20}, nil
			}}
	}

	var err error
	returnsWithin(t, "the second Run", func() { err = Run(context.Background(), opt(&syncBuffer{}, &Control{})) })
	want := stateDir + " is locked by another catd (pid " + strconv.Itoa(os.Getpid()) + ")"
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Run: %v; want an error saying %q", err, want)
	}
	r.frames(3) // the first goes on
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl, logs, done := &Control{}, &syncBuffer{}, make(chan error, 1)
	go func() { done <- Run(ctx, opt(logs, ctl)) }()
	testwait.For(t, "frames from the third Run", func() bool {
		select {
		case err := <-done:
			t.Fatalf("third Run: %v\n%s", err, logs.String())
		default:
		}
		return ctl.Snapshot().Frames > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("third Run: %v", err)
	}
}
