package daemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"catd/config"

	"catd/internal/testwait"
)

// A reload typed on the serial console that changes the serial section
// restarts the console it came from: the old console must not be waited
// for from inside its own command, and Run must stop afterwards.
func TestConsoleReloadRestartsConsole(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer tty.Close() // held open so that reading the master does not fail between consoles
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()

	r := newRig(t)
	link := filepath.Join(r.dir, "ttyCAT")
	if err := os.Symlink(tty.Name(), link); err != nil {
		t.Fatal(err)
	}
	var json atomic.Bool // the file stays the same: only the console's reload reads the change
	r.override = func(c *config.Config) {
		if json.Load() {
			c.Serial.Format = "json"
		}
	}
	r.start(fmt.Sprintf("source: file:/fake/dark\nmodel: %s\nserial:\n  port: %s\n", r.model, link))
	testwait.For(t, "the console to open", func() bool { return strings.Count(r.logs.String(), "serial console open") == 1 })

	json.Store(true)
	if _, err := master.Write([]byte("reload\n")); err != nil {
		t.Fatal(err)
	}
	if ev := r.event(EventConfigReloaded); ev.Msg != "serial.format" {
		t.Errorf("changed %q, want serial.format", ev.Msg)
	}
	testwait.For(t, "the console to open again", func() bool { return strings.Count(r.logs.String(), "serial console open") == 2 })
	if _, err := master.Write([]byte("version\n")); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for reply := false; !reply; {
		select {
		case l := <-lines:
			reply = strings.HasPrefix(l, `{"type":"reply"`) && strings.Contains(l, "catd test")
		case <-timeout:
			t.Fatalf("no JSON reply from the new console\n%s", r.logs.String())
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// The console's replies say what they claim: label names the frame and
// its p(cat) and warns against a confident prediction of the other class,
// status includes learning, version the model.
func TestConsoleRepliesSayWhatTheyClaim(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	r := newRig(t)
	r.start(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\nstats_every: 0\nserial:\n  port: %s\n", r.model, tty.Name()))
	testwait.For(t, "the console to open", func() bool { return strings.Contains(r.logs.String(), "serial console open") })
	ask := func(cmd string) string {
		t.Helper()
		if _, err := master.Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l := <-lines:
				if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERR") {
					return l
				}
			case <-timeout:
				t.Fatalf("no reply to %q\n%s", cmd, r.logs.String())
			}
		}
	}
	for _, tc := range []struct {
		cmd       string
		want, not []string
	}{
		{"label noncat", []string{"OK labelled frame ", ", the latest (p(cat) 0.913), noncat", "warning: the model was sure this frame has a cat"}, nil},
		{"label cat", []string{"OK labelled frame ", ", the latest (p(cat) 0.913), cat"}, []string{"warning"}},
		{"status", []string{"OK cat=true", "learning=on", "labels_cat=1", "labels_noncat=1"}, nil},
		{"version", []string{"OK catd test", "model " + r.model}, nil},
	} {
		got := ask(tc.cmd)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s answered %q, want %q in it", tc.cmd, got, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(got, w) {
				t.Errorf("%s answered %q, want no %q in it", tc.cmd, got, w)
			}
		}
	}
	if !strings.Contains(r.logs.String(), `"against_a_confident_prediction":true`) {
		t.Errorf("the contrary label was not logged as such\n%s", r.logs.String())
	}
}

func TestReviewPCat(t *testing.T) {
	for name, want := range map[string]float64{"20261127T031500.123Z-f000001234-p0.93.jpg": 0.93, "x-p1.00.jpg": 1} {
		if p, ok := reviewPCat(name); !ok || p != want {
			t.Errorf("reviewPCat(%q) = %v, %v, want %v", name, p, ok, want)
		}
	}
	for _, name := range []string{"frame.jpg", "x-p7.jpg", "x-pcat.jpg"} {
		if p, ok := reviewPCat(name); ok {
			t.Errorf("reviewPCat(%q) = %v, want none", name, p)
		}
	}
}
