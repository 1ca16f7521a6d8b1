package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen opens a unixgram socket at name (a path, or '@' for abstract)
// that stands in for the service manager's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv reads one datagram, failing the test after a second of silence.
func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return string(buf[:n])
}

// socketPath is a path for a test socket short enough for sockaddr_un.
func socketPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify")
	if len(p) > maxSocketPath {
		dir, err := os.MkdirTemp("", "sd")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		p = filepath.Join(dir, "notify")
	}
	return p
}

func TestNotifierSends(t *testing.T) {
	sockets := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"path", socketPath},
		{"abstract", func(t *testing.T) string {
			return fmt.Sprintf("@catd-systemd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		}},
	}
	sends := []struct {
		name string
		send func(n *Notifier) error
		want string
	}{
		{"verbatim", func(n *Notifier) error { return n.Notify("READY=1\nSTATUS=up\nMAINPID=1") }, "READY=1\nSTATUS=up\nMAINPID=1"},
		{"unicode", func(n *Notifier) error { return n.Notify("STATUS=chat détecté 🐈") }, "STATUS=chat détecté 🐈"},
		{"ready", (*Notifier).Ready, "READY=1"},
		{"stopping", (*Notifier).Stopping, "STOPPING=1"},
		{"watchdog", (*Notifier).Watchdog, "WATCHDOG=1"},
		{"status", func(n *Notifier) error { return n.Status("watching test:") }, "STATUS=watching test:"},
		{"status one line", func(n *Notifier) error { return n.Status("a\nb\r\nc\rd") }, "STATUS=a b c d"},
	}
	for _, s := range sockets {
		t.Run(s.name, func(t *testing.T) {
			addr := s.addr(t)
			l := listen(t, addr)
			t.Setenv("NOTIFY_SOCKET", addr)
			n, err := NewNotifier()
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if !n.Enabled() {
				t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
			}
			for _, c := range sends {
				t.Run(c.name, func(t *testing.T) {
					if err := c.send(n); err != nil {
						t.Fatal(err)
					}
					if got := recv(t, l); got != c.want {
						t.Errorf("got %q, want %q", got, c.want)
					}
				})
			}
			t.Run("package Notify", func(t *testing.T) {
				if err := Notify("EXTEND_TIMEOUT_USEC=1000000"); err != nil {
					t.Fatal(err)
				}
				if got := recv(t, l); got != "EXTEND_TIMEOUT_USEC=1000000" {
					t.Errorf("got %q", got)
				}
			})
		})
	}
}

func TestNotifierNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify("READY=1"); err != nil {
		t.Errorf("Notify without NOTIFY_SOCKET: %v", err)
	}
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	var nilN *Notifier
	for name, n := range map[string]*Notifier{"unset": n, "nil": nilN} {
		t.Run(name, func(t *testing.T) {
			if n.Enabled() {
				t.Error("Enabled() = true")
			}
			for _, err := range []error{n.Ready(), n.Status("x"), n.Watchdog(), n.Stopping(), n.Notify(""), n.Close(), n.Ready()} {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
			}
		})
	}
}

func TestNotifierBadSocket(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "notify")
	cases := []struct {
		name, socket string
		want         string // in the error
	}{
		{"missing path", missing, missing},
		{"relative", "run/notify", `"run/notify"`},
		{"too long", "/" + strings.Repeat("x", 200), "longer than"},
		{"missing abstract", fmt.Sprintf("@catd-no-such-socket-%d", os.Getpid()), "@catd-no-such-socket"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", c.socket)
			n, err := NewNotifier()
			if err == nil {
				n.Close()
				t.Fatal("NewNotifier succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
			if err := Notify("READY=1"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Notify: error %v does not name %q", err, c.want)
			}
		})
	}
}

func TestNotifierReconnects(t *testing.T) {
	addr := socketPath(t)
	l := listen(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	recv(t, l)

	// The manager re-executes: its socket closes and a new one is bound
	// at the same path.
	l.Close()
	os.Remove(addr)
	l2 := listen(t, addr)
	if err := n.Watchdog(); err != nil {
		t.Fatalf("after the socket was replaced: %v", err)
	}
	if got := recv(t, l2); got != "WATCHDOG=1" {
		t.Errorf("got %q", got)
	}

	// Nobody listens: an error naming the socket, and recovery once
	// someone does again.
	l2.Close()
	os.Remove(addr)
	if err := n.Watchdog(); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("with no listener: error %v does not name %s", err, addr)
	}
	l3 := listen(t, addr)
	if err := n.Stopping(); err != nil {
		t.Fatalf("after the listener came back: %v", err)
	}
	if got := recv(t, l3); got != "STOPPING=1" {
		t.Errorf("got %q", got)
	}
}

func TestNotifierClose(t *testing.T) {
	addr := socketPath(t)
	listen(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Ready(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Ready after Close: %v, want a closed error", err)
	}
	if err := (&Notifier{}).Notify(""); err != nil {
		t.Errorf("no-op Notifier, empty state: %v", err)
	}
}

func TestNotifierEmptyState(t *testing.T) {
	addr := socketPath(t)
	listen(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Notify(""); err == nil {
		t.Error("empty notification accepted")
	}
}

func TestNotifierConcurrent(t *testing.T) {
	addr := socketPath(t)
	l := listen(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if err := n.Status(fmt.Sprintf("%d/%d", i, j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	got := map[string]bool{}
	for range senders * each {
		got[recv(t, l)] = true
	}
	wg.Wait()
	n.Close()
	for i := range senders {
		for j := range each {
			if m := fmt.Sprintf("STATUS=%d/%d", i, j); !got[m] {
				t.Errorf("missing %q", m)
			}
		}
	}
}

func TestParseWatchdog(t *testing.T) {
	const self = 4242
	cases := []struct {
		name, usec, pid string
		want            time.Duration
		errHas          string // "" for success
		off             bool   // error wraps ErrNoWatchdog
	}{
		{"30 s", "30000000", "", 30 * time.Second, "", false},
		{"1 µs", "1", "", time.Microsecond, "", false},
		{"our pid", "15000000", "4242", 15 * time.Second, "", false},
		{"largest", "9223372036854775", "", 9223372036854775 * time.Microsecond, "", false},
		{"unset", "", "", 0, "not set", true},
		{"unset with pid", "", "4242", 0, "not set", true},
		{"other pid", "30000000", "1", 0, "not this process", true},
		{"zero", "0", "", 0, `WATCHDOG_USEC="0"`, false},
		{"infinity", "18446744073709551615", "", 0, "infinity", false},
		{"overflows uint64", "18446744073709551616", "", 0, "decimal", false},
		{"overflows Duration", "9223372036854776", "", 0, "time.Duration", false},
		{"negative", "-5", "", 0, "decimal", false},
		{"with unit", "30s", "", 0, `"30s"`, false},
		{"space", " 30", "", 0, "decimal", false},
		{"float", "1.5", "", 0, "decimal", false},
		{"bad pid", "30000000", "init", 0, `WATCHDOG_PID="init"`, false},
		{"zero pid", "30000000", "0", 0, "not a process id", false},
		{"negative pid", "30000000", "-4242", 0, "not a process id", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseWatchdog(c.usec, c.pid, self)
			if c.errHas == "" {
				if err != nil || got != c.want {
					t.Fatalf("got %v, %v; want %v, nil", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %v, nil; want an error with %q", got, c.errHas)
			}
			if !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("error %q lacks %q", err, c.errHas)
			}
			if errors.Is(err, ErrNoWatchdog) != c.off {
				t.Errorf("errors.Is(%q, ErrNoWatchdog) = %v, want %v", err, !c.off, c.off)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := fmt.Sprint(os.Getpid())
	cases := []struct {
		name, usec, pid string
		want            time.Duration
		ok              bool
	}{
		{"enabled", "30000000", "", 30 * time.Second, true},
		{"enabled for us", "20000000", pid, 20 * time.Second, true},
		{"for another process", "20000000", "1", 0, false},
		{"bad value", "soon", "", 0, false},
		{"unset", "", "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", c.usec)
			t.Setenv("WATCHDOG_PID", c.pid)
			if c.usec == "" {
				os.Unsetenv("WATCHDOG_USEC")
			}
			if c.pid == "" {
				os.Unsetenv("WATCHDOG_PID")
			}
			got, ok := WatchdogInterval()
			if got != c.want || ok != c.ok {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
			_, err := WatchdogTimeout()
			if (err == nil) != c.ok {
				t.Errorf("WatchdogTimeout error %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func FuzzParseWatchdog(f *testing.F) {
	for _, s := range []string{"30000000", "0", "", "-1", "18446744073709551615", "1e6", "9223372036854776"} {
		f.Add(s, "", 1)
		f.Add(s, "1", 1)
	}
	f.Fuzz(func(t *testing.T, usec, pid string, self int) {
		d, err := ParseWatchdog(usec, pid, self)
		if err == nil && d <= 0 {
			t.Errorf("ParseWatchdog(%q, %q, %d) = %v with no error", usec, pid, self, d)
		}
		if err != nil && d != 0 {
			t.Errorf("ParseWatchdog(%q, %q, %d) = %v with error %v", usec, pid, self, d, err)
		}
	})
}
