package serialctl

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"catd/internal/testwait"
)

// ptyPort is the far end of a pseudo-terminal: the test types into master,
// the console opens the slave through a symlink (so that the "device" can
// vanish and come back under the same name), as it would /dev/ttyGS0.
type ptyPort struct {
	master, tty *os.File
	lines       chan string
}

func newPTY(t *testing.T, link string) *ptyPort {
	t.Helper()
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	// tty stays open until vanish: with no slave open, reading the master
	// fails before the console has opened its own.
	if err := os.Symlink(tty.Name(), link); err != nil {
		master.Close()
		tty.Close()
		t.Fatal(err)
	}
	p := &ptyPort{master: master, tty: tty, lines: make(chan string, 1024)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			p.lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return p
}

// vanish closes the master and removes the link: the console's reads fail
// and reopening finds nothing, as after a USB unplug.
func (p *ptyPort) vanish(t *testing.T, link string) {
	t.Helper()
	p.master.Close()
	p.tty.Close()
	for range p.lines {
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
}

func (p *ptyPort) send(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

func TestPTY(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyCAT")
	p := newPTY(t, link)
	clk := newFakeClock()
	var failedOpens atomic.Int64 // the real OpenSerial, counted
	open := func(port string, baud int) (io.ReadWriteCloser, error) {
		f, err := OpenSerial(port, baud)
		if err != nil {
			failedOpens.Add(1)
		}
		return f, err
	}
	c, logs := start(t, Options{Port: link, StatusEvery: 50 * time.Millisecond, Open: open}, &fakeHandler{},
		func(c *Console) { c.now = clk.Now })
	defer func() { p.master.Close(); p.tty.Close() }()

	// Until the console has opened the slave (raw, no echo), the terminal
	// would echo what the test types.
	testwait.Within(t, 5*time.Second, "the console to open the pty", func() bool { return logs.Count("serial console open") > 0 })
	t.Run("status", func(t *testing.T) {
		p.send(t, "status\r\n")
		var ok, status bool
		for !ok || !status {
			switch l := next(t, p.lines); l {
			case "OK cat=no p=0.12 frames=42":
				ok = true
			case "STATUS cat=no p=0.12 frames=42":
				status = true
			default:
				t.Fatalf("unexpected line %q", l)
			}
		}
	})
	// replies returns the next reply lines, skipping STATUS and EVT lines.
	reply := func(t *testing.T) string {
		for {
			l := next(t, p.lines)
			if !strings.HasPrefix(l, "STATUS ") && !strings.HasPrefix(l, "EVT ") {
				return l
			}
		}
	}
	t.Run("flood", func(t *testing.T) {
		clk.Add(time.Minute)
		base := c.handled.Load()
		p.send(t, strings.Repeat("version\r", 100))
		for i := range Burst {
			if l := reply(t); l != "OK catd v1.2.3 model=tiny" {
				t.Fatalf("reply %d: %q", i, l)
			}
		}
		if l := reply(t); l != "ERR rate limited" {
			t.Fatalf("after the burst: %q", l)
		}
		// The rest of the flood is dropped: wait until all of it has been
		// read, before the next subtest refills the bucket (a slow machine
		// may still be reading it).
		if !testwait.Until(10*time.Second, func() bool { return c.handled.Load() >= base+100 }) {
			t.Fatalf("%d of the 100 flood lines read in 10 s", c.handled.Load()-base)
		}
	})
	t.Run("long line", func(t *testing.T) {
		clk.Add(time.Minute)
		p.send(t, strings.Repeat("x", 10<<10)+"\r\nversion\r\n")
		if l := reply(t); l != "ERR line too long (max 256 bytes)" {
			t.Fatalf("got %q", l)
		}
		if l := reply(t); l != "OK catd v1.2.3 model=tiny" {
			t.Fatalf("after the long line: %q", l)
		}
	})
	t.Run("binary", func(t *testing.T) {
		clk.Add(time.Minute)
		p.send(t, "\x1b[A\x00\xc3\x28\xff\n")
		if l := reply(t); l != "ERR binary input ignored" {
			t.Fatalf("got %q", l)
		}
	})
	t.Run("event", func(t *testing.T) {
		c.Event("cat_present", F("p", 0.93), F("frame", 1234))
		for {
			if l := next(t, p.lines); l == "EVT cat_present p=0.93 frame=1234" {
				break
			}
		}
	})
	t.Run("unplug and replug", func(t *testing.T) {
		failed := failedOpens.Load()
		p.vanish(t, link)
		testwait.For(t, "a few failed reopenings", func() bool { return failedOpens.Load() >= failed+3 })
		c.Event("cat_gone", F("frame", 1300))
		p = newPTY(t, link)
		for {
			if l := next(t, p.lines); l == "EVT cat_gone frame=1300" {
				break
			}
		}
		clk.Add(time.Minute)
		p.send(t, "version\r")
		if l := reply(t); l != "OK catd v1.2.3 model=tiny" {
			t.Fatalf("after replugging: %q", l)
		}
		if n := logs.Count("serial port lost"); n != 1 {
			t.Errorf("port loss logged %d times", n)
		}
		if n := logs.Count("serial port unavailable"); n != 0 {
			t.Errorf("failed reopenings logged %d times, want 0 beyond the loss", n)
		}
		if n := logs.Count("serial port back"); n != 1 {
			t.Errorf("recovery logged %d times", n)
		}
	})
}
