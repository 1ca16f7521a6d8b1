package serialctl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/testwait"
)

// fakeHandler records what the console asked of the daemon.
type fakeHandler struct {
	mu    sync.Mutex
	calls []string
	err   error // returned by every call that can fail
}

func (h *fakeHandler) record(s string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, s)
	return h.err
}
func (h *fakeHandler) Status() string               { return "cat=no p=0.12 frames=42" }
func (h *fakeHandler) Version() string              { return "catd v1.2.3 model=tiny" }
func (h *fakeHandler) SetThreshold(x float64) error { return h.record(fmt.Sprint("threshold ", x)) }
func (h *fakeHandler) Label(class, frame string) (string, error) {
	return "labelled frame " + frame + " " + class, h.record("label " + class + " " + frame)
}
func (h *fakeHandler) Learn(on bool) error { return h.record(fmt.Sprint("learn ", on)) }
func (h *fakeHandler) Save() error         { return h.record("save") }
func (h *fakeHandler) Reload() error       { return h.record("reload") }

func (h *fakeHandler) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

// fakePort is a serial port made of two pipes: the test writes what the
// console reads, and reads what it writes, line by line.
type fakePort struct {
	inR, outR *io.PipeReader
	inW, outW *io.PipeWriter
	lines     chan string
	closed    chan struct{}
	once      sync.Once
}

func newFakePort() *fakePort {
	p := &fakePort{lines: make(chan string, 1024), closed: make(chan struct{})}
	p.inR, p.inW = io.Pipe()
	p.outR, p.outW = io.Pipe()
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(p.outR)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p
}

func (p *fakePort) Read(b []byte) (int, error)  { return p.inR.Read(b) }
func (p *fakePort) Write(b []byte) (int, error) { return p.outW.Write(b) }
func (p *fakePort) Close() error {
	p.once.Do(func() {
		p.inR.Close()
		p.outW.Close()
		close(p.closed)
	})
	return nil
}

// unplug makes the console's next read fail.
func (p *fakePort) unplug() { p.inW.CloseWithError(errors.New("unplugged")) }

func (p *fakePort) send(t *testing.T, s string) {
	t.Helper()
	if _, err := p.inW.Write([]byte(s)); err != nil {
		t.Fatalf("writing %q to the port: %v", s, err)
	}
}

// next returns the next line the console wrote.
func next(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("port closed while waiting for a line")
		}
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no line from the console within 5 s")
	}
	return ""
}

// until reads lines up to and including the first that starts with prefix.
func until(t *testing.T, lines <-chan string, prefix string) []string {
	t.Helper()
	var got []string
	for {
		l := next(t, lines)
		got = append(got, l)
		if strings.HasPrefix(l, prefix) {
			return got
		}
	}
}

// fakeClock is a settable time for the rate limiter.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeClock() *fakeClock           { c := &fakeClock{}; c.ns.Store(time.Unix(1e9, 0).UnixNano()); return c }

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// start runs a console on ports handed out by open and stops it at the end
// of the test, checking that Run returns promptly and leaves no goroutine.
func start(t *testing.T, opt Options, h Handler, tweak func(*Console)) (*Console, *syncBuffer) {
	t.Helper()
	before := runtime.NumGoroutine()
	logs := &syncBuffer{}
	opt.Log = zerolog.New(logs).Level(zerolog.InfoLevel)
	if opt.Port == "" {
		opt.Port = "/dev/ttyFAKE0"
	}
	c, err := New(opt, h)
	if err != nil {
		t.Fatal(err)
	}
	c.minBackoff, c.maxBackoff = time.Millisecond, 10*time.Millisecond
	if tweak != nil {
		tweak(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return within 2 s of cancel")
		}
		// The fake ports' scanner goroutines end once the port is closed.
		testwait.Until(2*time.Second, func() bool { return runtime.NumGoroutine() <= before })
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines left after Run, had %d", n, before)
		}
	})
	return c, logs
}

// onePort returns an Open function handing out p once, then failing.
func onePort(p io.ReadWriteCloser) func(string, int) (io.ReadWriteCloser, error) {
	var used atomic.Bool
	return func(string, int) (io.ReadWriteCloser, error) {
		if used.Swap(true) {
			return nil, errors.New("no such device")
		}
		return p, nil
	}
}

func TestConsoleCommands(t *testing.T) {
	tests := []struct {
		name, send string
		format     Format
		want       []string // the lines written, ending with the OK/ERR
		calls      []string
	}{
		{"status CRLF", "status\r\n", Text, []string{"OK cat=no p=0.12 frames=42"}, nil},
		{"version lone CR", "version\r", Text, []string{"OK catd v1.2.3 model=tiny"}, nil},
		{"threshold", "threshold 0.7\n", Text, []string{"OK threshold 0.7 until restart or the next config change"}, []string{"threshold 0.7"}},
		{"label latest", "label cat\n", Text, []string{"OK labelled frame  cat"}, []string{"label cat "}},
		{"label frame", "label noncat f12.jpg\n", Text, []string{"OK labelled frame f12.jpg noncat"}, []string{"label noncat f12.jpg"}},
		{"label path refused", "label cat ../../etc/shadow\n", Text, []string{`ERR label: frame name "../../etc/shadow": want 1 to 64 of A-Z a-z 0-9 . _ -, no paths`}, nil},
		{"learn", "learn off\n", Text, []string{"OK learning off"}, []string{"learn false"}},
		{"save", "save\n", Text, []string{"OK checkpoint saved"}, []string{"save"}},
		{"reload", "reload\n", Text, []string{"OK config reloaded"}, []string{"reload"}},
		{"unknown", "rm -rf /\n", Text, []string{`ERR unknown command "rm" (try help)`}, nil},
		{"binary", "\x00\xff\xfe\x01\x02\n", Text, []string{"ERR binary input ignored"}, nil},
		{"empty lines ignored", "\r\n\n\r  \nversion\n", Text, []string{"OK catd v1.2.3 model=tiny"}, nil},
		{"help", "help\n", Text, append(helpWant(), "OK help: 8 commands"), nil},
		{"json status", "status\n", JSON, []string{`{"type":"reply","ok":true,"text":"cat=no p=0.12 frames=42"}`}, nil},
		{"json err", "bogus\n", JSON, []string{`{"type":"reply","ok":false,"text":"unknown command \"bogus\" (try help)"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakePort()
			h := &fakeHandler{}
			start(t, Options{Format: tt.format, StatusEvery: -1, Open: onePort(p)}, h, nil)
			p.send(t, tt.send)
			for i, w := range tt.want {
				if got := next(t, p.lines); got != w {
					t.Fatalf("line %d: got %q, want %q", i, got, w)
				}
			}
			if got := h.Calls(); strings.Join(got, "|") != strings.Join(tt.calls, "|") {
				t.Errorf("handler calls %q, want %q", got, tt.calls)
			}
		})
	}
}

func helpWant() []string {
	var out []string
	for _, l := range HelpLines() {
		out = append(out, "HELP "+l)
	}
	return out
}

func TestConsoleHandlerError(t *testing.T) {
	p := newFakePort()
	h := &fakeHandler{err: errors.New("checkpoint: write /var/lib/catd/ckpt: no space left on device")}
	start(t, Options{StatusEvery: -1, Open: onePort(p)}, h, nil)
	p.send(t, "save\n")
	if got, want := next(t, p.lines), "ERR save: checkpoint: write /var/lib/catd/ckpt: no space left on device"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestConsoleFlood(t *testing.T) {
	p := newFakePort()
	clk := newFakeClock()
	start(t, Options{StatusEvery: -1, Open: onePort(p)}, &fakeHandler{}, func(c *Console) { c.now = clk.Now })
	p.send(t, strings.Repeat("status\n", 100))
	p.send(t, strings.Repeat("\x00garbage\xff\n", 100))
	// The clock stands still, so no token comes back: collect what the
	// flood earned until the console has been quiet for a while.
	var got []string
	for quiet := false; !quiet; {
		select {
		case l := <-p.lines:
			got = append(got, l)
		case <-time.After(300 * time.Millisecond):
			quiet = true
		}
	}
	var ok, limited int
	for _, l := range got {
		switch {
		case strings.HasPrefix(l, "OK cat=no"):
			ok++
		case l == "ERR rate limited":
			limited++
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if ok != Burst || limited != 1 {
		t.Fatalf("%d OK and %d rate limited for a flood of 200 lines; want %d and 1", ok, limited, Burst)
	}
	clk.Add(10 * time.Second) // the bucket refills: the flood is over
	p.send(t, "version\n")
	if l := next(t, p.lines); l != "OK catd v1.2.3 model=tiny" {
		t.Fatalf("after the flood: %q", l)
	}
}

func TestConsoleLongLine(t *testing.T) {
	p := newFakePort()
	start(t, Options{StatusEvery: -1, MaxLine: 64, Open: onePort(p)}, &fakeHandler{}, nil)
	p.send(t, "status "+strings.Repeat("A", 10<<10)+"\r\n")
	p.send(t, strings.Repeat("B", 64)+"\n") // exactly the limit: kept, and unknown
	p.send(t, "version\n")
	want := []string{
		"ERR line too long (max 64 bytes)",
		`ERR unknown command "` + strings.Repeat("B", 32) + `"... (try help)`,
		"OK catd v1.2.3 model=tiny",
	}
	for i, w := range want {
		if got := next(t, p.lines); got != w {
			t.Fatalf("line %d: got %q, want %q", i, got, w)
		}
	}
}

func TestConsoleEventsAndStatus(t *testing.T) {
	for _, tt := range []struct {
		format       Format
		event, state string
	}{
		{Text, "EVT cat_present p=0.93 frame=1234", "STATUS cat=no p=0.12 frames=42"},
		{JSON, `{"type":"event","event":"cat_present","p":0.93,"frame":1234}`, `{"type":"status","text":"cat=no p=0.12 frames=42"}`},
	} {
		t.Run(tt.format.String(), func(t *testing.T) {
			p := newFakePort()
			c, _ := start(t, Options{Format: tt.format, StatusEvery: 20 * time.Millisecond, Open: onePort(p)}, &fakeHandler{}, nil)
			c.Event("cat_present", F("p", float32(0.93)), F("frame", uint64(1234)))
			var sawEvent, sawStatus bool
			for !sawEvent || !sawStatus {
				switch l := next(t, p.lines); l {
				case tt.event:
					sawEvent = true
				case tt.state:
					sawStatus = true
				default:
					t.Fatalf("unexpected line %q", l)
				}
			}
		})
	}
}

func TestConsoleReopen(t *testing.T) {
	var (
		mu    sync.Mutex
		fails = 3
		ports = make(chan *fakePort, 2)
	)
	open := func(string, int) (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return nil, errors.New("open /dev/ttyFAKE0: no such file or directory")
		}
		fails = 2 // the next time it vanishes, two more failures
		p := newFakePort()
		ports <- p
		return p, nil
	}
	c, logs := start(t, Options{StatusEvery: -1, Queue: 4, Open: open}, &fakeHandler{}, nil)
	c.Event("cat_present", F("frame", 1)) // queued before the port exists

	p := <-ports
	if got := next(t, p.lines); got != "EVT cat_present frame=1" {
		t.Fatalf("first line %q, want the event queued while the port was missing", got)
	}
	p.send(t, "version\n")
	until(t, p.lines, "OK catd")

	p.unplug()
	<-p.closed
	for i := range 6 { // 4 fit the queue, 2 are dropped
		c.Event("cat_gone", F("frame", i))
	}
	p = <-ports
	want := []string{"EVT dropped n=2", "EVT cat_gone frame=0", "EVT cat_gone frame=1", "EVT cat_gone frame=2", "EVT cat_gone frame=3"}
	for i, w := range want {
		if got := next(t, p.lines); got != w {
			t.Fatalf("line %d after reopening: got %q, want %q", i, got, w)
		}
	}
	p.send(t, "status\n")
	until(t, p.lines, "OK cat=no")
	if c.Dropped() != 2 {
		t.Errorf("Dropped() = %d, want 2", c.Dropped())
	}
	for _, l := range []struct {
		msg  string
		want int
	}{{"serial port unavailable", 1}, {"serial port back", 2}, {"serial console open", 0}, {"serial port lost", 1}} {
		if n := logs.Count(l.msg); n != l.want {
			t.Errorf("log %q appears %d times, want %d; logs:\n%s", l.msg, n, l.want, logs.b.String())
		}
	}
}

func TestConsoleCancelClosesPort(t *testing.T) {
	p := newFakePort()
	c, err := New(Options{Port: "/dev/ttyFAKE0", StatusEvery: -1, Log: zerolog.Nop(), Open: onePort(p)}, &fakeHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	p.send(t, "version\n") // the port is open and being read
	next(t, p.lines)
	go func() { // a reader that stops reading: the console's writes block
		for range 50 {
			c.Event("stats", F("n", 1))
		}
	}()
	// Real time for the writes to fill the pipe and block; nothing outside
	// says when they have.
	time.Sleep(20 * time.Millisecond)
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of cancel")
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Run took %v to return", d)
	}
	select {
	case <-p.closed:
	default:
		t.Fatal("Run returned without closing the port")
	}
}

func TestNew(t *testing.T) {
	h := &fakeHandler{}
	tests := []struct {
		name string
		opt  Options
		h    Handler
		err  string
	}{
		{"ok", Options{Port: "/dev/ttyGS0"}, h, ""},
		{"no port", Options{}, h, "no port"},
		{"relative port", Options{Port: "ttyGS0"}, h, "absolute"},
		{"odd baud", Options{Port: "/dev/ttyGS0", Baud: 115201}, h, "baud 115201"},
		{"bad format", Options{Port: "/dev/ttyGS0", Format: 7}, h, "format"},
		{"no handler", Options{Port: "/dev/ttyGS0"}, nil, "handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opt, tt.h)
			if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("New: %v, want %q", err, tt.err)
			}
		})
	}
}

func TestLineSplitter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []string // "!" marks a too-long report
	}{
		{"endings", []string{"a\nb\r\nc\rd"}, []string{"a", "b", "c"}},
		{"split across reads", []string{"ab", "c\r", "\nd", "e\n"}, []string{"abc", "de"}},
		{"limit kept", []string{"abcd\n"}, []string{"abcd"}},
		{"over limit once", []string{"abcdefgh", "ijk\r\nok\n"}, []string{"!", "ok"}},
		{"blank lines", []string{"\r\n\r\n\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newLineSplitter(4)
			var got []string
			for _, c := range tt.chunks {
				s.feed([]byte(c), func(l []byte, long bool) {
					if long {
						got = append(got, "!")
					} else {
						got = append(got, string(l))
					}
				})
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := NewLimiter(5, 10, t0)
	var ok, notes int
	for range 30 {
		a, n := l.Allow(t0)
		ok, notes = ok+b2i(a), notes+b2i(n)
	}
	if ok != 10 || notes != 1 {
		t.Fatalf("burst: %d allowed, %d notices", ok, notes)
	}
	// A flood at 10 lines/s for 2 s: the rate gets through, no new notice.
	for i := range 20 {
		a, n := l.Allow(t0.Add(time.Duration(i+1) * 100 * time.Millisecond))
		ok, notes = ok+b2i(a), notes+b2i(n)
	}
	if ok != 20 || notes != 1 {
		t.Fatalf("steady flood: %d allowed, %d notices", ok, notes)
	}
	// Quiet long enough to refill: the next flood gets its own notice.
	t1 := t0.Add(time.Minute)
	for range 12 {
		a, n := l.Allow(t1)
		ok, notes = ok+b2i(a), notes+b2i(n)
	}
	if ok != 30 || notes != 2 {
		t.Fatalf("second flood: %d allowed, %d notices", ok, notes)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
