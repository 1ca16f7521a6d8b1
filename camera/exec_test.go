//go:build unix

package camera

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"os/signal"
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

	"catd/internal/testwait"
)

// fakeEnv, set in the environment of the test binary, makes a child started
// from it with fakeArg as its first argument act as a fake camera command
// (fakeCamera) instead of running the tests. (Other children, such as fuzz
// workers, inherit the variable too but not the argument.)
const (
	fakeEnv = "CATD_CAMERA_FAKE_COMMAND"
	fakeArg = "fake-camera"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" && len(os.Args) > 1 && os.Args[1] == fakeArg {
		os.Exit(fakeCamera(os.Args[2:]))
	}
	os.Setenv(fakeEnv, "1") // inherited by the commands the tests start
	os.Exit(m.Run())
}

// quietTB lets test helpers that only call Helper run in the fake command.
type quietTB struct{ testing.TB }

func (quietTB) Helper() {}

// rawTestFrame fills a raw frame of run-local index i (from 1) with a
// pattern the test can check.
func rawTestFrame(dst []byte, i int) {
	for j := range dst {
		dst[j] = byte(i*31 + j*7)
	}
}

// fakeCamera is the fake camera command: it writes frames to stdout and
// lines to stderr, then exits, stays, or writes part of a frame and exits.
func fakeCamera(args []string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	format := fs.String("format", "mjpeg", "mjpeg, nodht (MJPEG without Huffman tables) or i420")
	n := fs.Int("n", 3, "frames to write (-1: without end)")
	w := fs.Int("w", 32, "width in pixels")
	h := fs.Int("h", 24, "height in pixels")
	interval := fs.Duration("interval", 0, "pause before each frame")
	lines := fs.Int("stderr", 0, "lines to write to stderr first")
	end := fs.String("end", "exit", "after the frames: exit, stay or partial (half a frame, then exit)")
	code := fs.Int("code", 3, "exit status")
	ignoreTerm := fs.Bool("ignoreterm", false, "ignore SIGTERM")
	pidfile := fs.String("pidfile", "", "write the pid here once running")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	for i := range *lines {
		if i == 1 {
			fmt.Fprintf(os.Stderr, "ERROR: fake trouble %d\n", i)
		} else {
			fmt.Fprintf(os.Stderr, "fake camera: line %d\r\n", i)
		}
	}
	if *pidfile != "" {
		os.WriteFile(*pidfile+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o644)
		os.Rename(*pidfile+".tmp", *pidfile)
	}
	frame := func(i int) []byte {
		switch *format {
		case "i420":
			_, size := rawFrameSize(I420, *w, *h)
			b := make([]byte, size)
			rawTestFrame(b, i)
			return b
		case "nodht":
			return stripDHT(quietTB{}, makeJPEG(quietTB{}, *w, *h, i))
		}
		return concat([]byte("--boundary\r\n\r\n"), makeJPEG(quietTB{}, *w, *h, i))
	}
	for i := 1; *n < 0 || i <= *n; i++ {
		time.Sleep(*interval) // a camera's frame pacing, in a child process
		if _, err := os.Stdout.Write(frame(i)); err != nil {
			return 1
		}
	}
	switch *end {
	case "stay":
		for {
			time.Sleep(time.Hour) // a command that never exits, until killed
		}
	case "partial":
		b := frame(*n + 1)
		os.Stdout.Write(b[:len(b)/2])
	}
	return *code
}

// fakePrefix returns the start of an exec: command line that runs the fake
// camera: the test binary itself, through qemu when it is a foreign binary
// (go test -exec qemu-aarch64-static without binfmt_misc).
var fakePrefix = sync.OnceValues(func() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	q := "'" + self + "' " + fakeArg
	probe := exec.Command(self, fakeArg, "-n", "0", "-code", "0")
	if err := probe.Run(); err == nil {
		return q, nil
	}
	qarch := map[string]string{"arm64": "aarch64", "arm": "arm", "amd64": "x86_64"}[runtime.GOARCH]
	qemu, err := exec.LookPath("qemu-" + qarch + "-static")
	if err != nil {
		return "", fmt.Errorf("cannot run %s as a child, and no qemu-%s-static", self, qarch)
	}
	return qemu + " " + q, nil
})

// openFake opens exec:[?query -- ]<fake camera> args, with the timing of
// restarts and shutdown shortened.
func openFake(t testing.TB, query, args string, log zerolog.Logger) *execSource {
	t.Helper()
	prefix, err := fakePrefix()
	if err != nil {
		t.Skip(err)
	}
	// The fake camera is told what it is by a variable, which it gets
	// only when named: commands do not inherit catd's environment.
	if query != "" {
		query += "&"
	}
	uri := "exec:?" + query + "env=" + fakeEnv + " -- " + prefix + " " + args
	u, err := parseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseExecConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	c.backoffMin, c.backoffMax, c.killWait = 20*time.Millisecond, 80*time.Millisecond, 300*time.Millisecond
	s, err := openExec(uri, c, log)
	if err != nil {
		t.Fatalf("openExec(%q): %v", uri, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitGoroutines waits up to a second for the number of goroutines to drop
// to n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	if testwait.Until(time.Second, func() bool { return runtime.NumGoroutine() <= n }) {
		return
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines after Close, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

func TestExecSourceFrames(t *testing.T) {
	i420 := func(i int) []byte {
		_, size := rawFrameSize(I420, 17, 11)
		b := make([]byte, size)
		rawTestFrame(b, i)
		return b
	}
	tests := []struct {
		name, query, args string
		want              func(t *testing.T, i int) []byte // frame i from 1
		format            Format
		w, h, stride      int
	}{
		{"mjpeg", "", "-n 3 -interval 20ms -end stay", func(t *testing.T, i int) []byte { return makeJPEG(t, 32, 24, i) }, JPEG, 0, 0, 0},
		{"mjpeg without DHT", "max=65536", "-format nodht -n 3 -interval 20ms -end stay", func(t *testing.T, i int) []byte {
			return InsertHuffmanTables(nil, stripDHT(t, makeJPEG(t, 32, 24, i)))
		}, JPEG, 0, 0, 0},
		{"i420", "format=i420&w=17&h=11", "-format i420 -w 17 -h 11 -n 3 -interval 20ms -end stay", func(t *testing.T, i int) []byte { return i420(i) }, I420, 17, 11, 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openFake(t, tc.query, tc.args, zerolog.Nop())
			frames, err := readFrames(t, src, 3)
			if err != nil {
				t.Fatalf("after %d frames: %v", len(frames), err)
			}
			for i, f := range frames {
				if want := tc.want(t, i+1); !bytes.Equal(f.Data, want) {
					t.Errorf("frame %d: %d bytes differ from the %d expected", i, len(f.Data), len(want))
				}
				if f.Seq != uint64(i+1) || f.Format != tc.format || f.W != tc.w || f.H != tc.h || f.Stride != tc.stride {
					t.Errorf("frame %d: Seq %d, %v %dx%d stride %d; want Seq %d, %v %dx%d stride %d",
						i, f.Seq, f.Format, f.W, f.H, f.Stride, i+1, tc.format, tc.w, tc.h, tc.stride)
				}
				if f.Time.IsZero() || (i > 0 && f.Time.Before(frames[i-1].Time)) {
					t.Errorf("frame %d: Time %v", i, f.Time)
				}
				if f.Format == JPEG {
					if _, err := jpeg.Decode(bytes.NewReader(f.Data)); err != nil {
						t.Errorf("frame %d: %v", i, err)
					}
				}
			}
			if got := stats(src); got != (Stats{Frames: 3}) {
				t.Errorf("Stats() = %+v, want 3 frames", got)
			}
		})
	}
}

func TestExecSourceStderr(t *testing.T) {
	var logs syncBuffer
	src := openFake(t, "", "-n 1 -stderr 30 -end stay", zerolog.New(&logs))
	var f Frame
	if err := nextTimeout(src, &f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	testwait.Until(time.Second, func() bool { return strings.Count(logs.String(), "command stderr") >= stderrBurst })
	// Real time, not a condition: lines over the burst would show up now.
	time.Sleep(20 * time.Millisecond)
	src.Close()
	out := logs.String()
	// A burst of stderrBurst lines is logged, the rest only counted.
	if got := strings.Count(out, `"message":"camera: command stderr"`); got != stderrBurst {
		t.Errorf("%d stderr lines logged, want %d:\n%s", got, stderrBurst, out)
	}
	for _, want := range []string{
		`{"level":"info","source":"exec:`,
		`"command":"` + filepath.Base(strings.Fields(src.cfg.args[0])[0]) + `"`,
		`"line":"fake camera: line 0"`,
		`{"level":"warn",`, `"line":"ERROR: fake trouble 1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"line":""`) || strings.Contains(out, `\r`) {
		t.Errorf("empty line or CR logged:\n%s", out)
	}
}

func TestLineLimiter(t *testing.T) {
	l := lineLimiter{burst: 2, every: time.Second}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0}, {0, true, 0}, {0, false, 0}, {100 * time.Millisecond, false, 0},
		{time.Second, true, 2}, {time.Second, false, 0}, {10 * time.Second, true, 1}, {10 * time.Second, true, 0},
	}
	for i, st := range steps {
		suppressed, ok := l.allow(t0.Add(st.at))
		if ok != st.ok || suppressed != st.suppressed {
			t.Errorf("step %d: allow = %d, %v; want %d, %v", i, suppressed, ok, st.suppressed, st.ok)
		}
	}
}

func TestExecSourceRestarts(t *testing.T) {
	tests := []struct {
		name, query, args string
		wantLog           string
		wantCorrupt       bool
	}{
		{"exit", "", "-n 2 -interval 5ms -code 3", "exit status 3", false},
		{"partial frame", "format=i420&w=8&h=8", "-format i420 -w 8 -h 8 -n 2 -interval 5ms -end partial -code 0", "exit status 0", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			src := openFake(t, tc.query, tc.args, zerolog.New(&logs))
			// Each run writes two frames; wait for the third run.
			var f Frame
			for got := uint64(0); src.restarts.Load() < 2 || got < 5; {
				if err := nextTimeout(src, &f, 5*time.Second); err != nil {
					t.Fatalf("after %d frames and %d restarts: %v", got, src.restarts.Load(), err)
				}
				if f.Seq <= got {
					t.Fatalf("Seq %d after %d", f.Seq, got)
				}
				got = f.Seq
			}
			out := logs.String()
			if !strings.Contains(out, `"message":"camera: command ended"`) || !strings.Contains(out, tc.wantLog) {
				t.Errorf("log lacks the exit (%s):\n%s", tc.wantLog, out)
			}
			if got := stats(src).Corrupt; (got > 0) != tc.wantCorrupt {
				t.Errorf("%d corrupt frames, want some: %v\n%s", got, tc.wantCorrupt, out)
			}
			if tc.wantCorrupt && !strings.Contains(out, "output ended in the middle of a frame") {
				t.Errorf("log lacks the partial frame:\n%s", out)
			}
		})
	}
}

func TestExecSourceBackoff(t *testing.T) {
	var logs syncBuffer
	src := openFake(t, "", "-n 0 -code 1", zerolog.New(&logs))
	// Wait for the third delay, however slow the machine (qemu, load):
	// the delays are 20, 40, 80 ms, so by then about 3 starts were made;
	// without backoff there would be many more in that time.
	start := time.Now()
	testwait.Until(20*time.Second, func() bool { return strings.Contains(logs.String(), `"restart_in":80`) })
	n, took := src.restarts.Load(), time.Since(start)
	src.Close()
	if n < 2 || n > 5 {
		t.Errorf("%d restarts by the third delay (after %v), with backoff 20 ms doubling to 80 ms", n, took)
	}
	for _, want := range []string{`"restart_in":20`, `"restart_in":40`, `"restart_in":80`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestExecSourceClose(t *testing.T) {
	tests := []struct {
		name, args string
		minWait    time.Duration // how long Close should take at least
	}{
		{"sigterm", "-n 1 -end stay", 0},
		{"ignores sigterm", "-n 1 -end stay -ignoreterm", 300 * time.Millisecond}, // killWait in openFake
		{"down", "-n 0 -code 1", 0},                                               // Close during the backoff
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			pidfile := filepath.Join(t.TempDir(), "pid")
			src := openFake(t, "", tc.args+" -pidfile "+pidfile, zerolog.Nop())
			var f Frame
			if tc.minWait > 0 || tc.name == "sigterm" {
				if err := nextTimeout(src, &f, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			} else if err := nextTimeout(src, &f, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next with the command down: %v, want context.DeadlineExceeded", err)
			}
			var pid int
			testwait.Until(5*time.Second, func() bool {
				b, _ := os.ReadFile(pidfile)
				pid, _ = strconv.Atoi(string(b))
				return pid != 0
			})
			errc := make(chan error, 1)
			go func() { errc <- src.Next(context.Background(), &f) }()
			// A head start for Next, so that Close usually finds it blocked;
			// an earlier Close must work too.
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			if err := src.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			took := time.Since(start)
			if took < tc.minWait*9/10 || took > tc.minWait+time.Second {
				t.Errorf("Close took %v, want %v to %v", took, tc.minWait, tc.minWait+time.Second)
			}
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("Next blocked during Close: %v, want ErrClosed", err)
			}
			if err := src.Next(context.Background(), &f); !errors.Is(err, ErrClosed) {
				t.Errorf("Next after Close: %v, want ErrClosed", err)
			}
			if err := src.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if pid != 0 {
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("fake camera %d still there after Close: %v", pid, err)
				}
			}
			waitGoroutines(t, before)
		})
	}
}

func TestExecSourceAllocs(t *testing.T) {
	tests := []struct{ name, query, args string }{
		{"mjpeg", "", "-n -1 -interval 2ms"},
		{"i420", "format=i420&w=64&h=48", "-format i420 -w 64 -h 48 -n -1 -interval 2ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := openFake(t, tc.query, tc.args, zerolog.Nop())
			var f Frame
			ctx := context.Background()
			for range 3 { // sizes the source's buffers and f.Data
				if err := src.Next(ctx, &f); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(20, func() {
				if err := src.Next(ctx, &f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per frame, want 0", allocs)
			}
		})
	}
}

func BenchmarkExecSource(b *testing.B) {
	for _, size := range [][2]int{{320, 240}, {640, 480}} {
		b.Run(fmt.Sprintf("i420/%dx%d", size[0], size[1]), func(b *testing.B) {
			q := fmt.Sprintf("format=i420&w=%d&h=%d", size[0], size[1])
			src := openFake(b, q, fmt.Sprintf("-format i420 -w %d -h %d -n -1", size[0], size[1]), zerolog.Nop())
			var f Frame
			ctx := context.Background()
			if err := src.Next(ctx, &f); err != nil { // warm-up: sizes f.Data
				b.Fatal(err)
			}
			b.SetBytes(int64(len(f.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := src.Next(ctx, &f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

func TestSplitCommandLine(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		wantErr  string
	}{
		{"empty", "", nil, ""},
		{"blanks", " \t\n", nil, ""},
		{"words", " rpicam-vid  -t 0\t-o -\n", []string{"rpicam-vid", "-t", "0", "-o", "-"}, ""},
		{"single quotes", `sh -c 'a "b" \c | d'`, []string{"sh", "-c", `a "b" \c | d`}, ""},
		{"double quotes", `x "a 'b' \"c\" \\ \n $HOME"`, []string{"x", `a 'b' "c" \ \n $HOME`}, ""},
		{"backslash", `x a\ b \' \\`, []string{"x", "a b", "'", `\`}, ""},
		{"joined", `x a'b c'"d"e`, []string{"x", "ab cde"}, ""},
		{"empty words", `x '' ""`, []string{"x", "", ""}, ""},
		{"quoted pipe", `x '|' \>`, []string{"x", "|", ">"}, ""},
		{"question mark", "ffmpeg -i http://cam/x?a=1&b=2", []string{"ffmpeg", "-i", "http://cam/x?a=1&b=2"}, ""},
		{"unterminated single", "x 'a", nil, "unterminated '"},
		{"unterminated double", `x "a\"`, nil, `unterminated "`},
		{"lone backslash", `x \`, nil, `lone \`},
		{"pipe", "a | b", nil, `"|" is shell syntax`},
		{"redirect", "a >> log", nil, `">>" is shell syntax`},
		{"and", "a && b", nil, `"&&" is shell syntax`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitCommandLine(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("splitCommandLine(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("splitCommandLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseExecURI(t *testing.T) {
	tests := []struct {
		uri, cmd, query string
		format          Format
		size            int
	}{
		{"exec:rpicam-vid -o -", "rpicam-vid -o -", "", JPEG, 0},
		{"exec:ffmpeg -i x?a=1", "ffmpeg -i x?a=1", "", JPEG, 0},
		{"exec:?format=i420&w=640&h=480 -- rpicam-vid --codec yuv420 -o -", "rpicam-vid --codec yuv420 -o -", "format=i420&h=480&w=640", I420, 640*480 + 2*320*240},
		{"exec:?format=yuyv&w=4&h=2\t--\tx", "x", "format=yuyv&h=2&w=4", YUYV, 16},
		{"exec:?format=rgb24&w=3&h=2 -- x", "x", "format=rgb24&h=2&w=3", RGB24, 18},
		{"exec:?format=gray8&w=3&h=2 -- x", "x", "format=gray8&h=2&w=3", Gray8, 6},
		{"exec:?format=nv12&w=3&h=3 -- x", "x", "format=nv12&h=3&w=3", NV12, 9 + 2*2*2},
		{"exec:? -- x -- y", "x -- y", "", JPEG, 0},
		{"exec:?env=A,_B1 -- x", "x", "env=A%2C_B1", JPEG, 0},
		{"exec:?env=&format=gray8&w=1&h=1 -- x", "x", "env=&format=gray8&h=1&w=1", Gray8, 1},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			u, err := parseURI(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			if u.scheme != "exec" || strings.TrimSpace(u.path) != tc.cmd || u.q.Encode() != tc.query { // Encode sorts
				t.Errorf("parseURI = %q %q %q, want exec %q %q", u.scheme, u.path, u.q.Encode(), tc.cmd, tc.query)
			}
			c, err := parseExecConfig(u)
			if err != nil {
				t.Fatal(err)
			}
			if c.format != tc.format || c.size != tc.size {
				t.Errorf("format %v, %d bytes; want %v, %d", c.format, c.size, tc.format, tc.size)
			}
		})
	}
}

// TestExecSourceEnvironment: the command does not inherit catd's
// environment (NOTIFY_SOCKET would let it talk to systemd for catd;
// secrets are not its business), but gets PATH and what env= names.
func TestExecSourceEnvironment(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip(err)
	}
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("SECRET_TOKEN", "hunter2")
	t.Setenv("LIBCAMERA_LOG_LEVELS", "*:ERROR")
	t.Setenv("LC_ALL", "C.UTF-8")
	out := filepath.Join(t.TempDir(), "env")
	src, err := Open(`exec:?env=LIBCAMERA_LOG_LEVELS -- sh -c 'env > "$0.tmp" && mv "$0.tmp" "$0"; sleep 10' `+out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var b []byte
	testwait.Within(t, 5*time.Second, "the command to write its environment", func() bool {
		b, err = os.ReadFile(out)
		return err == nil
	})
	env := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, kv := range env {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "NOTIFY_SOCKET", "SECRET_TOKEN", fakeEnv:
			t.Errorf("the command got %s", kv)
		}
	}
	for _, kv := range []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8", "LIBCAMERA_LOG_LEVELS=*:ERROR"} {
		if !slices.Contains(env, kv) {
			t.Errorf("the command did not get %s; it got %q", kv, env)
		}
	}
}

// TestExecSourceRedacts: a password in a URL of the command line appears
// neither in the source's name nor in its logs.
func TestExecSourceRedacts(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip(err)
	}
	var logs syncBuffer
	src, err := Open("exec:sh -c 'echo no stream at $0 >&2; sleep 2' rtsp://admin:hunter2@cam/live", Options{Log: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if !testwait.Until(5*time.Second, func() bool { return strings.Contains(logs.String(), "command stderr") }) {
		t.Fatalf("no stderr line logged:\n%s", logs.String())
	}
	src.Close()
	if name := fmt.Sprint(src); strings.Contains(name, "hunter2") || !strings.Contains(name, "rtsp://admin:xxxxx@cam/live") {
		t.Errorf("source named %q", name)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the password is in the log:\n%s", logs.String())
	}
}
