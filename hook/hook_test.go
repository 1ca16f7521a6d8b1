//go:build linux

package hook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/childenv"

	"catd/internal/testwait"
)

// subreaper reports whether the test binary became a child subreaper, so
// that the commands' orphaned children are reparented to it and processGone
// can reap them: where PID 1 does not reap orphans (as in some containers),
// a killed orphan would otherwise stay a zombie, which kill(pid, 0) still
// finds. (qemu-user refuses the prctl; processGone then takes a zombie for
// gone.)
var subreaper bool

func TestMain(m *testing.M) {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	subreaper = errno == 0
	os.Exit(m.Run())
}

// syncBuffer collects the JSON log lines of a Runner.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// entries returns the log entries with the message msg ("" for all).
func (s *syncBuffer) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var es []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Bytes(), err)
		}
		if msg == "" || e["message"] == msg {
			es = append(es, e)
		}
	}
	return es
}

// newRunner returns a Runner for opt that logs into the returned buffer,
// closed at the end of the test.
func newRunner(t *testing.T, opt Options) (*Runner, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	opt.Log = zerolog.New(&buf)
	r, err := New(opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	return r, &buf
}

// runOnce fires r once and waits for the run to end with Close.
func runOnce(t *testing.T, r *Runner, ev Event) {
	t.Helper()
	if !r.Fire(ev) {
		t.Fatal("Fire = false on an idle Runner, want true")
	}
	r.Close()
}

// waitIdle waits up to 5 s for r to have no run in progress.
func waitIdle(t *testing.T, r *Runner) {
	t.Helper()
	testwait.Within(t, 5*time.Second, "the run to end", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.running
	})
}

// waitGoroutines waits up to a second for the number of goroutines to drop
// to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	if testwait.Until(time.Second, func() bool { return runtime.NumGoroutine() <= n }) {
		return
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines after Close, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

// quote quotes s for the shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readPid reads the process ID a command wrote to file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the command wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

// processGone waits up to 2 s for process pid to be gone (kill(pid, 0)
// fails with ESRCH), reaping it if it was reparented to the test binary.
func processGone(t *testing.T, pid int) {
	t.Helper()
	if testwait.Until(2*time.Second, func() bool {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return true
		}
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return !subreaper && isZombie(pid) // dead, waiting for a parent that does not reap it
	}) {
		return
	}
	t.Errorf("process %d is still running", pid)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func TestEnvironment(t *testing.T) {
	t.Setenv("CATD_MODEL", "stale")      // replaced by the event's
	t.Setenv("CATD_TEST_PARENT", "kept") // not passed: not named in Options.Env
	zone := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		ev   Event
		want []string
	}{
		{
			"detection",
			Event{Kind: "cat_present", Time: time.Date(2025, 6, 1, 9, 30, 15, 123456789, zone), Frame: 4711,
				PCat: 0.9312, Snapshot: "/var/lib/catd/snap 1.jpg", Model: "catnet-v3"},
			[]string{"CATD_EVENT=cat_present", "CATD_FRAME=4711", "CATD_MODEL=catnet-v3", "CATD_MSG=", "CATD_P_CAT=0.9312",
				"CATD_SNAPSHOT=/var/lib/catd/snap 1.jpg", "CATD_TIME=2025-06-01T07:30:15.123456789Z"},
		},
		{
			"no snapshot, rounded probability",
			Event{Kind: "cat_present", Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), Frame: 0,
				PCat: 0.99996, Model: "m"},
			[]string{"CATD_EVENT=cat_present", "CATD_FRAME=0", "CATD_MODEL=m", "CATD_MSG=", "CATD_P_CAT=1.0000",
				"CATD_SNAPSHOT=", "CATD_TIME=2025-12-31T23:59:59Z"},
		},
		{
			"a service event with its message",
			Event{Kind: "config_refused", Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), Model: "m",
				Msg: "catd.yaml:3: detect.threshold: want a number in (0, 1), got 1.5"},
			[]string{"CATD_EVENT=config_refused", "CATD_FRAME=0", "CATD_MODEL=m",
				"CATD_MSG=catd.yaml:3: detect.threshold: want a number in (0, 1), got 1.5", "CATD_P_CAT=0.0000",
				"CATD_SNAPSHOT=", "CATD_TIME=2025-12-31T23:59:59Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "env")
			r, _ := newRunner(t, Options{Shell: "env | grep ^CATD_ | sort > " + quote(out) +
				"; echo STDIN=$(readlink /proc/$$/fd/0) >> " + quote(out)})
			runOnce(t, r, tt.ev)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(string(b)), "\n")
			want := append(slices.Clone(tt.want), "STDIN=/dev/null")
			if !slices.Equal(got, want) {
				t.Errorf("environment:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestEnvironmentIsClean: the command does not inherit catd's environment
// (NOTIFY_SOCKET would let it talk to systemd for catd; secrets are not
// its business), but gets PATH, the locale and time zone, the CATD_
// variables, and what Options.Env names.
func TestEnvironmentIsClean(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("SECRET_TOKEN", "hunter2")
	t.Setenv("MQTT_HOST", "broker.lan")
	t.Setenv("LC_TIME", "C.UTF-8")
	t.Setenv("TZ", "Europe/Berlin")
	tests := []struct {
		name      string
		path      string // catd's PATH; "" unsets it
		env       []string
		want      []string // lines of env, sorted
		wantPaths []string // PATH=…
	}{
		{"nothing named", "/usr/bin:/bin", nil, nil, []string{"PATH=/usr/bin:/bin"}},
		{"a variable named", "/usr/bin:/bin", []string{"MQTT_HOST", "NOT_SET"}, []string{"MQTT_HOST=broker.lan"}, []string{"PATH=/usr/bin:/bin"}},
		{"no PATH", "", nil, nil, []string{"PATH=" + childenv.DefaultPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, err := exec.LookPath("sh")
			if err != nil {
				t.Skip(err)
			}
			env, err := exec.LookPath("env")
			if err != nil {
				t.Skip(err)
			}
			if tt.path == "" {
				t.Setenv("PATH", "")
				os.Unsetenv("PATH")
			} else {
				t.Setenv("PATH", tt.path)
			}
			out := filepath.Join(t.TempDir(), "env")
			r, _ := newRunner(t, Options{Argv: []string{sh, "-c", `"$0" > "$1"`, env, out}, Env: tt.env})
			runOnce(t, r, Event{Kind: "cat_present", Frame: 7, Model: "m"})
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(string(b)), "\n")
			for _, kv := range got {
				name, _, _ := strings.Cut(kv, "=")
				switch name {
				case "NOTIFY_SOCKET", "SECRET_TOKEN", "CATD_TEST_PARENT":
					t.Errorf("the command got %s", kv)
				}
			}
			for _, kv := range append(append([]string{"LC_TIME=C.UTF-8", "TZ=Europe/Berlin", "CATD_EVENT=cat_present", "CATD_FRAME=7", "CATD_MODEL=m"}, tt.want...), tt.wantPaths...) {
				if !slices.Contains(got, kv) {
					t.Errorf("the command did not get %s; it got %q", kv, got)
				}
			}
			if !slices.ContainsFunc(tt.env, func(s string) bool { return s == "MQTT_HOST" }) && slices.Contains(got, "MQTT_HOST=broker.lan") {
				t.Error("the command got MQTT_HOST, which was not named")
			}
		})
	}
}

func TestEventTimeDefaultsToNow(t *testing.T) {
	out := filepath.Join(t.TempDir(), "time")
	r, _ := newRunner(t, Options{Shell: `printf %s "$CATD_TIME" > ` + quote(out)})
	before := time.Now()
	runOnce(t, r, Event{Kind: "cat_present"})
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before.Add(-time.Second)) || got.After(time.Now()) {
		t.Errorf("CATD_TIME = %v, want about %v", got, before)
	}
}

// outputLines returns the line fields of r's output log entries, in order.
func outputLines(t *testing.T, buf *syncBuffer) []string {
	t.Helper()
	var lines []string
	for _, e := range buf.entries(t, "hook: output") {
		lines = append(lines, e["line"].(string))
	}
	return lines
}

func TestArgv(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "say")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nfor a; do echo \"<$a>\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		dir  string
		want []string
	}{
		{"in PATH", []string{"printf", `%s\n`, "two words", "it's $HOME", "*", "a;b|c"},
			"", []string{"two words", "it's $HOME", "*", "a;b|c"}},
		{"absolute path", []string{"/usr/bin/printf", `%s\n`, "  padded  "}, "", []string{"  padded  "}},
		{"relative to Dir", []string{"./say", "x y", ""}, dir, []string{"<x y>", "<>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, buf := newRunner(t, Options{Argv: tt.argv, Dir: tt.dir})
			runOnce(t, r, Event{Kind: "cat_present"})
			if got := outputLines(t, buf); !slices.Equal(got, tt.want) {
				t.Errorf("output lines:\n got %q\nwant %q", got, tt.want)
			}
			if s := r.Stats(); s != (Stats{Started: 1}) {
				t.Errorf("Stats = %+v, want one run started", s)
			}
		})
	}
}

func TestFire(t *testing.T) {
	// A step waits (for the runner to be idle, then until at after the
	// first Fire), fires and checks the result.
	type step struct {
		idle bool
		at   time.Duration
		want bool
	}
	tests := []struct {
		name     string
		shell    string
		interval time.Duration
		steps    []step
		want     Stats
	}{
		{"rate limited", "true", 500 * time.Millisecond,
			[]step{{want: true}, {idle: true, want: false}, {idle: true, at: 550 * time.Millisecond, want: true}},
			Stats{Started: 2, Skipped: 1}},
		{"two quick fires", "true", time.Hour,
			[]step{{want: true}, {want: false}, {idle: true, want: false}},
			Stats{Started: 1, Skipped: 2}},
		{"busy", "sleep 0.3", 0,
			[]step{{want: true}, {want: false}, {want: false}, {idle: true, want: true}},
			Stats{Started: 2, Skipped: 2}},
		{"no limit", "true", 0,
			[]step{{want: true}, {idle: true, want: true}, {idle: true, want: true}},
			Stats{Started: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newRunner(t, Options{Shell: tt.shell, MinInterval: tt.interval})
			var first time.Time
			for i, s := range tt.steps {
				if s.idle {
					waitIdle(t, r)
				}
				if i > 0 {
					// Real time: MinInterval is measured against it.
					time.Sleep(time.Until(first.Add(s.at)))
				} else {
					first = time.Now()
				}
				if got := r.Fire(Event{Kind: "cat_present", Frame: uint64(i)}); got != s.want {
					t.Fatalf("Fire %d = %v, want %v (%v after the first)", i, got, s.want, time.Since(first))
				}
			}
			r.Close()
			if got := r.Stats(); got != tt.want {
				t.Errorf("Stats = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFireConcurrent(t *testing.T) {
	r, _ := newRunner(t, Options{Shell: "true", MinInterval: time.Hour})
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	for i := range n {
		wg.Go(func() {
			if r.Fire(Event{Kind: "cat_present", Frame: uint64(i)}) {
				mu.Lock()
				started++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Close()
	if started != 1 {
		t.Errorf("%d Fires returned true, want 1", started)
	}
	if got, want := r.Stats(), (Stats{Started: 1, Skipped: n - 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name     string
		shell    string // $PIDFILE: where to write the pid of a child to check
		want     Stats
		msg      string
		maxTime  time.Duration
		killWait time.Duration
	}{
		{"sleep", "sleep 30", Stats{Started: 1, TimedOut: 1}, "hook: command timed out", 3 * time.Second, 0},
		{"grandchild", `sleep 30 & echo $! > "$PIDFILE"; sleep 30; wait`,
			Stats{Started: 1, TimedOut: 1}, "hook: command timed out", 3 * time.Second, 0},
		{"SIGTERM ignored", `trap '' TERM; sleep 30 & echo $! > "$PIDFILE"; sleep 30; wait`,
			Stats{Started: 1, TimedOut: 1}, "hook: command timed out", 3 * time.Second, 300 * time.Millisecond},
		{"background child holds the output", `sleep 30 & echo $! > "$PIDFILE"`,
			Stats{Started: 1, TimedOut: 1}, "hook: command timed out", 3 * time.Second, 0},
		{"background child left behind", `sleep 30 > /dev/null 2>&1 & echo $! > "$PIDFILE"`,
			Stats{Started: 1}, "hook: command done", time.Second, 0},
		{"SIGTERM first", `trap 'echo TERM > "$PIDFILE.term"; exit 0' TERM; sleep 30 & echo $! > "$PIDFILE"; wait`,
			Stats{Started: 1, TimedOut: 1}, "hook: command timed out", 3 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pid")
			shell := "PIDFILE=" + quote(pidfile) + "; " + tt.shell
			r, buf := newRunner(t, Options{Shell: shell, Timeout: 200 * time.Millisecond})
			if tt.killWait > 0 {
				r.killWait = tt.killWait
			}
			start := time.Now()
			runOnce(t, r, Event{Kind: "cat_present"})
			if took := time.Since(start); took > tt.maxTime {
				t.Errorf("the run took %v, want at most %v", took, tt.maxTime)
			}
			if got := r.Stats(); got != tt.want {
				t.Errorf("Stats = %+v, want %+v", got, tt.want)
			}
			es := buf.entries(t, tt.msg)
			if len(es) != 1 {
				t.Fatalf("%d log entries %q, want 1; log:\n%s", len(es), tt.msg, buf.b.String())
			}
			wantLevel := "warn"
			if tt.want.TimedOut == 0 {
				wantLevel = "info"
			}
			if es[0]["level"] != wantLevel {
				t.Errorf("level %v, want %s", es[0]["level"], wantLevel)
			}
			if strings.Contains(tt.shell, "PIDFILE") {
				processGone(t, readPid(t, pidfile))
			}
			if strings.Contains(tt.shell, "trap 'echo TERM") {
				if _, err := os.Stat(pidfile + ".term"); err != nil {
					t.Errorf("the command did not see SIGTERM: %v", err)
				}
			}
		})
	}
}

func TestExit(t *testing.T) {
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone")
	if err := os.WriteFile(gone, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		opt    Options
		before func() // after New, before Fire
		want   Stats
		level  string
		msg    string
		code   float64 // exit_code
	}{
		{"success", Options{Shell: "exit 0"}, nil, Stats{Started: 1}, "info", "hook: command done", 0},
		{"non-zero exit", Options{Shell: "echo oops >&2; exit 3"}, nil, Stats{Started: 1, Failed: 1}, "warn", "hook: command failed", 3},
		{"killed", Options{Shell: "kill -9 $$"}, nil, Stats{Started: 1, Failed: 1}, "warn", "hook: command failed", -1},
		{"could not start", Options{Argv: []string{gone}}, func() { os.Remove(gone) },
			Stats{Started: 1, Failed: 1}, "warn", "hook: the command did not start", -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, buf := newRunner(t, tt.opt)
			if tt.before != nil {
				tt.before()
			}
			runOnce(t, r, Event{Kind: "cat_present", Frame: 42})
			if got := r.Stats(); got != tt.want {
				t.Errorf("Stats = %+v, want %+v", got, tt.want)
			}
			es := buf.entries(t, tt.msg)
			if len(es) != 1 {
				t.Fatalf("%d log entries %q, want 1; log:\n%s", len(es), tt.msg, buf.b.String())
			}
			e := es[0]
			if e["level"] != tt.level || e["frame"] != 42.0 || e["hook"] == "" {
				t.Errorf("log entry %v: want level %s, frame 42 and a hook", e, tt.level)
			}
			if tt.code == -2 {
				if e["error"] == nil {
					t.Errorf("log entry %v: want an error", e)
				}
				return
			}
			if e["exit_code"] != tt.code {
				t.Errorf("exit_code %v, want %v", e["exit_code"], tt.code)
			}
			if _, ok := e["duration"].(float64); !ok {
				t.Errorf("log entry %v: no duration", e)
			}
			pid, _ := e["pid"].(float64)
			if pid <= 0 {
				t.Fatalf("log entry %v: no pid", e)
			}
			// The command was reaped, not left a zombie.
			if err := syscall.Kill(int(pid), 0); err != syscall.ESRCH {
				t.Errorf("kill(%v, 0) after Close: %v, want ESRCH", pid, err)
			}
		})
	}
}

func TestOutput(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name    string
		shell   string
		want    []string // logged lines; nil: only count them
		logged  int
		more    float64 // more_lines, 0 for no note
		cut     []bool  // cut flags of the logged lines
		streams []string
	}{
		{"100 lines", `i=0; while [ $i -lt 100 ]; do echo "line $i"; i=$((i+1)); done`,
			[]string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9",
				"line 10", "line 11", "line 12", "line 13", "line 14", "line 15", "line 16", "line 17", "line 18", "line 19"},
			20, 80, nil, nil},
		{"10 kB line", `head -c 10000 /dev/zero | tr '\0' x; echo; echo after`,
			[]string{x(512), "after"}, 2, 0, []bool{true, false}, nil},
		{"512 bytes are not cut", `printf '%512s\n' '' | tr ' ' x`, []string{x(512)}, 1, 0, []bool{false}, nil},
		{"cut inside a rune", `printf '%511s' '' | tr ' ' x; printf 'ééé\n'`, []string{x(511)}, 1, 0, []bool{true}, nil},
		{"blank lines and no final newline", `printf '\n  \na\n\nb'`, []string{"a", "b"}, 2, 0, nil, nil},
		{"stderr", `echo out; sleep 0.1; echo err >&2`, []string{"out", "err"}, 2, 0, nil, []string{"stdout", "stderr"}},
		{"limit shared by stdout and stderr",
			`i=0; while [ $i -lt 15 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`, nil, 20, 10, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, buf := newRunner(t, Options{Shell: tt.shell})
			runOnce(t, r, Event{Kind: "cat_present"})
			es := buf.entries(t, "hook: output")
			var got []string
			for i, e := range es {
				got = append(got, e["line"].(string))
				if e["hook"] != r.name || e["pid"] == nil {
					t.Errorf("output entry %v: want fields hook and pid", e)
				}
				if tt.cut != nil && i < len(tt.cut) && (e["cut"] == true) != tt.cut[i] {
					t.Errorf("line %d: cut=%v, want %v", i, e["cut"], tt.cut[i])
				}
				if tt.streams != nil && i < len(tt.streams) && e["stream"] != tt.streams[i] {
					t.Errorf("line %d: stream %v, want %s", i, e["stream"], tt.streams[i])
				}
			}
			if len(got) != tt.logged {
				t.Errorf("%d lines logged, want %d:\n%q", len(got), tt.logged, got)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("lines logged:\n got %q\nwant %q", got, tt.want)
			}
			var notes []map[string]any
			for _, e := range buf.entries(t, "") {
				if _, ok := e["more_lines"]; ok {
					notes = append(notes, e)
				}
			}
			switch {
			case tt.more == 0 && len(notes) > 0:
				t.Errorf("unexpected note %v", notes)
			case tt.more > 0 && len(notes) != 1:
				t.Errorf("%d notes of more lines, want 1", len(notes))
			case tt.more > 0:
				wantMsg := fmt.Sprintf("hook: … %d more lines", int(tt.more))
				if notes[0]["more_lines"] != tt.more || notes[0]["message"] != wantMsg {
					t.Errorf("note %v, want more_lines %v and message %q", notes[0], tt.more, wantMsg)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  Options
		want string // in the error; "" for none
	}{
		{"shell", Options{Shell: "echo hi"}, ""},
		{"argv", Options{Argv: []string{"true"}, Timeout: time.Second, MinInterval: time.Minute, Dir: dir}, ""},
		{"missing command", Options{Argv: []string{"catd-no-such-command", "x"}}, `"catd-no-such-command"`},
		{"missing path", Options{Argv: []string{"/nonexistent/notify"}}, `"/nonexistent/notify"`},
		{"missing relative to Dir", Options{Argv: []string{"./notify"}, Dir: dir}, `"./notify"`},
		{"not executable", Options{Argv: []string{file}}, file},
		{"neither", Options{}, "no command"},
		{"both", Options{Shell: "true", Argv: []string{"true"}}, "both"},
		{"empty argv[0]", Options{Argv: []string{""}}, "empty"},
		{"negative timeout", Options{Shell: "true", Timeout: -time.Second}, "timeout"},
		{"negative interval", Options{Shell: "true", MinInterval: -time.Second}, "min_interval"},
		{"missing Dir", Options{Shell: "true", Dir: filepath.Join(dir, "nope")}, "nope"},
		{"Dir is a file", Options{Shell: "true", Dir: file}, "not a directory"},
		{"env names a variable", Options{Shell: "true", Env: []string{"MQTT_HOST", "_x1"}}, ""},
		{"env with a bad name", Options{Shell: "true", Env: []string{"MQTT_HOST", "A=B"}}, `env: "A=B" is not a variable name`},
		{"env with an empty name", Options{Shell: "true", Env: []string{""}}, "env: an empty variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.opt)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want == "":
				r.Close()
			case err == nil:
				r.Close()
				t.Fatalf("New succeeded, want an error mentioning %s", tt.want)
			case !strings.HasPrefix(err.Error(), "hook: ") || !strings.Contains(err.Error(), tt.want):
				t.Errorf("New: %v, want a hook: error mentioning %s", err, tt.want)
			}
		})
	}
}

func TestDefaultTimeout(t *testing.T) {
	r, err := New(Options{Shell: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if r.opt.Timeout != DefaultTimeout {
		t.Errorf("Timeout = %v, want %v", r.opt.Timeout, DefaultTimeout)
	}
}

func TestClose(t *testing.T) {
	tests := []struct {
		name             string
		shell            string // $OUT: a file in a temporary folder
		timeout          time.Duration
		minTime, maxTime time.Duration
		want             Stats
		wantOut          bool // the command wrote $OUT
	}{
		{"waits for the run", `sleep 0.3; echo done > "$OUT"`, 5 * time.Second,
			250 * time.Millisecond, 3 * time.Second, Stats{Started: 1}, true},
		{"kills at the timeout", `sleep 30; echo done > "$OUT"`, 300 * time.Millisecond,
			250 * time.Millisecond, 3 * time.Second, Stats{Started: 1, TimedOut: 1}, false},
		{"idle", "", 0, 0, 100 * time.Millisecond, Stats{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			base := runtime.NumGoroutine()
			r, _ := newRunner(t, Options{Shell: "OUT=" + quote(out) + "; " + tt.shell, Timeout: tt.timeout})
			if tt.shell != "" && !r.Fire(Event{Kind: "cat_present"}) {
				t.Fatal("Fire = false on an idle Runner, want true")
			}
			start := time.Now()
			r.Close()
			if took := time.Since(start); took < tt.minTime || took > tt.maxTime {
				t.Errorf("Close took %v, want %v to %v", took, tt.minTime, tt.maxTime)
			}
			if r.Fire(Event{Kind: "cat_present"}) {
				t.Error("Fire after Close = true, want false")
			}
			r.Close() // a second Close returns at once
			if got := r.Stats(); got != tt.want {
				t.Errorf("Stats = %+v, want %+v", got, tt.want)
			}
			if _, err := os.Stat(out); (err == nil) != tt.wantOut {
				t.Errorf("output file: %v, want it written: %v", err, tt.wantOut)
			}
			waitGoroutines(t, base)
		})
	}
}

// A skipped Fire, which the frame loop makes for every frame with a cat
// between runs, does not allocate.
func TestFireSkippedAllocs(t *testing.T) {
	r, _ := newRunner(t, Options{Shell: "true", MinInterval: time.Hour})
	ev := Event{Kind: "cat_present", Time: time.Now(), PCat: 0.9, Model: "m"}
	r.Fire(ev)
	if n := testing.AllocsPerRun(100, func() { r.Fire(ev) }); n != 0 {
		t.Errorf("a skipped Fire allocates %v times, want 0", n)
	}
}

func BenchmarkFireSkipped(b *testing.B) {
	r, err := New(Options{Shell: "true", MinInterval: time.Hour, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ev := Event{Kind: "cat_present", Time: time.Now(), PCat: 0.9, Model: "m"}
	r.Fire(ev)
	b.ReportAllocs()
	for b.Loop() {
		r.Fire(ev)
	}
}

func TestTrimPartialRune(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"abé", "abé"},
		{"ab\xc3", "ab"},
		{"a\xe2\x82", "a"},
		{"a€", "a€"},
		{"\xf0\x9f\x98", ""},
		{"a\x80", "a\x80"}, // not a cut rune: left alone
	}
	for _, tt := range tests {
		if got := string(trimPartialRune([]byte(tt.in))); got != tt.want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 48, "short"},
		{"exact", 5, "exact"},
		{"longer", 4, "long…"},
		{"aé", 2, "a…"},
	}
	for _, tt := range tests {
		if got := cut(tt.in, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
