// Package hook runs the user's on_detect command when catd detects a cat:
// a push notification, a cat flap, anything a command can do.
//
// The command is either a shell command line, run as /bin/sh -c LINE, or an
// argv run directly without a shell. Its environment is not catd's (which
// under systemd holds NOTIFY_SOCKET, and may hold secrets) but a clean one:
// PATH (catd's, or a default when it has none), HOME, LANG, LC_* and TZ when
// catd has them, the variables Options.Env names, and
//
//	CATD_EVENT     the event kind, such as cat_present
//	CATD_P_CAT     the cat probability, 4 decimals (0.9312)
//	CATD_FRAME     the frame number
//	CATD_TIME      when the frame was taken, RFC 3339 in UTC with nanoseconds
//	CATD_SNAPSHOT  the path of a saved image of the frame, or empty
//	CATD_MODEL     the model that made the detection
//	CATD_MSG       what the event says (trained: the round's figures;
//	               config_refused: why), at most 1024 bytes, or empty
//
// Its stdin is /dev/null. Its stdout and stderr are logged a line at a time
// (each line cut at 512 bytes, at most 20 lines a run, then one note of how
// many more there were), and its exit is logged: at info level when it
// succeeds, at warn level when it fails or times out. These entries carry
// the fields hook (the base name of Argv[0], or the shell command line cut
// to 48 bytes) and pid.
//
// At most one run is in progress at a time, and runs start at least
// MinInterval apart: Fire skips (and counts) a detection that comes while a
// run is in progress or sooner than MinInterval after the last run started.
// Fire never waits for the command; the frame loop can call it on every
// frame with a cat in it.
//
// The command runs in a process group of its own. A run lasts until the
// command has exited and its stdout and stderr are closed, which includes
// anything it started in the background that still holds them (sh -c
// 'sleep 100 & wait'). When a run lasts longer than Timeout, the whole group
// is sent SIGTERM, and SIGKILL 2 s later. When a run ends, whatever is left
// of the group is killed, so nothing a hook starts outlives its run; a
// command that means to leave something running must start it in a session
// of its own (setsid). Every process the runner starts is waited for, so
// none is left a zombie.
package hook

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/childenv"
)

// DefaultTimeout is the Timeout of Options that leave it zero.
const DefaultTimeout = 10 * time.Second

// killWait is how long a timed-out command's group has between SIGTERM and
// SIGKILL.
const killWait = 2 * time.Second

// shell runs the command lines of Options.Shell.
const shell = "/bin/sh"

// Options configure a Runner. Exactly one of Shell and Argv is set.
type Options struct {
	Shell string   // a command line, run with /bin/sh -c
	Argv  []string // a command and its arguments, run without a shell

	// Timeout is the longest a run may last (zero: DefaultTimeout); then
	// the command's process group is sent SIGTERM, and SIGKILL 2 s later.
	Timeout time.Duration
	// MinInterval is the least time from the start of one run to the start
	// of the next (zero: no limit beyond one run at a time).
	MinInterval time.Duration
	// Dir is the command's working directory ("": catd's). A relative
	// Argv[0] with a slash in it is relative to Dir.
	Dir string
	// Env names variables of catd's environment that the command gets too
	// (when catd has them), besides the clean environment of the package
	// comment: ["MQTT_HOST", "XDG_RUNTIME_DIR"].
	Env []string
	Log zerolog.Logger
}

// Event is a detection, handed to the command in its environment.
type Event struct {
	Kind     string    // CATD_EVENT: cat_present
	Time     time.Time // CATD_TIME: when the frame was taken (zero: when Fire was called)
	Frame    uint64    // CATD_FRAME: the frame number
	PCat     float32   // CATD_P_CAT: the cat probability, 0 to 1
	Snapshot string    // CATD_SNAPSHOT: path of a saved image of the frame, or ""
	Model    string    // CATD_MODEL: the model that made the detection
	Msg      string    // CATD_MSG: what the event says, cut to MaxMsg bytes, or ""
}

// MaxMsg is the longest CATD_MSG, in bytes.
const MaxMsg = 1024

// Stats counts what a Runner did. Every Fire before Close counts once in
// Started or in Skipped; every started run that ended counts once in
// Failed, in TimedOut, or in neither when it succeeded.
type Stats struct {
	Started  uint64 // runs started (Fire returned true)
	Skipped  uint64 // detections skipped: a run was in progress, or MinInterval had not passed
	Failed   uint64 // runs that could not start, or exited with a non-zero status or on a signal
	TimedOut uint64 // runs stopped at Timeout
}

// Runner runs the on_detect command. It is safe for concurrent use.
type Runner struct {
	path string   // the executable, resolved by New
	args []string // its argv, args[0] as given
	name string   // the command, short, for the hook field of logs
	opt  Options
	// killWait is the time from SIGTERM to SIGKILL; tests shorten it.
	killWait time.Duration

	mu      sync.Mutex
	running bool
	last    time.Time // when the last run started
	closed  bool
	stats   Stats
	runs    sync.WaitGroup
}

// New checks opt and returns a Runner for it. The command (Argv[0], or
// /bin/sh for Shell) is looked up in PATH now, so a missing one is an error
// here rather than at the first detection.
func New(opt Options) (*Runner, error) {
	switch {
	case opt.Shell == "" && len(opt.Argv) == 0:
		return nil, errors.New("hook: no command: give a shell command line or an argv")
	case opt.Shell != "" && len(opt.Argv) > 0:
		return nil, errors.New("hook: both a shell command line and an argv given: give one")
	case len(opt.Argv) > 0 && opt.Argv[0] == "":
		return nil, errors.New("hook: the command name (argv[0]) is empty")
	case opt.Timeout < 0:
		return nil, fmt.Errorf("hook: timeout %v is negative", opt.Timeout)
	case opt.MinInterval < 0:
		return nil, fmt.Errorf("hook: min_interval %v is negative", opt.MinInterval)
	}
	for _, name := range opt.Env {
		if err := childenv.CheckName(name); err != nil {
			return nil, fmt.Errorf("hook: env: %w", err)
		}
	}
	opt.Env = slices.Clone(opt.Env)
	if opt.Timeout == 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Dir != "" {
		fi, err := os.Stat(opt.Dir)
		if err != nil {
			return nil, fmt.Errorf("hook: working directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("hook: working directory %s is not a directory", opt.Dir)
		}
	}
	r := &Runner{opt: opt, killWait: killWait}
	if opt.Shell != "" {
		r.args = []string{shell, "-c", opt.Shell}
		r.name = cut(opt.Shell, 48)
	} else {
		r.args = append([]string(nil), opt.Argv...)
		r.name = filepath.Base(opt.Argv[0])
	}
	var err error
	if r.path, err = lookPath(r.args[0], opt.Dir); err != nil {
		return nil, err
	}
	return r, nil
}

// lookPath finds the executable name the way exec.Command would when run
// in dir, and returns its path.
func lookPath(name, dir string) (string, error) {
	look := name
	if dir != "" && strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) {
		abs, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("hook: command %q: %w", name, err)
		}
		look = abs
	}
	path, err := exec.LookPath(look)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err // exec.Error repeats the name
		}
		return "", fmt.Errorf("hook: command %q: %w", name, err)
	}
	if !filepath.IsAbs(path) {
		// Found through a relative PATH entry: pin it down, since the
		// command runs in Dir.
		if path, err = filepath.Abs(path); err != nil {
			return "", fmt.Errorf("hook: command %q: %w", name, err)
		}
	}
	return path, nil
}

// cut returns s, cut to at most n bytes (at a rune boundary) with "…"
// appended when it was longer.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(trimPartialRune([]byte(s[:n]))) + "…"
}

// Fire starts a run of the command for ev and returns true, unless a run is
// in progress, MinInterval has not passed since the last run started, or
// the Runner is closed. It does not wait for the command to start: a
// command that cannot be started is logged and counted in Stats.Failed.
func (r *Runner) Fire(ev Event) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.running || (!r.last.IsZero() && now.Sub(r.last) < r.opt.MinInterval) {
		r.stats.Skipped++
		return false
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	r.running, r.last = true, now
	r.stats.Started++
	r.runs.Add(1)
	go r.run(ev)
	return true
}

// Close waits for a run in progress to end, which takes up to Timeout plus
// the 2 s from SIGTERM to SIGKILL, and makes later calls of Fire return
// false. It may be called more than once.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.runs.Wait()
}

// Stats returns the counts so far.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// outcome is how a run ended.
type outcome int

const (
	succeeded outcome = iota
	failed
	timedOut
)

// done records the end of a run and lets the next one start.
func (r *Runner) done(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o {
	case failed:
		r.stats.Failed++
	case timedOut:
		r.stats.TimedOut++
	}
	r.running = false
}
