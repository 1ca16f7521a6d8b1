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
