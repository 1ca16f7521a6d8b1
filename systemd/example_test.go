package systemd_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"catd/systemd"
)

// A Type=notify service reports readiness once, pings the watchdog at half
// its interval while it makes progress, and says when it is stopping.
func ExampleNotifier() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	n, err := systemd.NewNotifier()
	if err != nil {
		log.Printf("not notifying systemd: %v", err) // n is nil: a no-op
	}
	defer n.Close()

	n.Status("watching /dev/video0")
	n.Ready()
	defer n.Stopping()

	ping := time.Duration(1<<63 - 1)
	if d, ok := systemd.WatchdogInterval(); ok {
		ping = d / 2
	}
	t := time.NewTicker(ping)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			n.Watchdog()
		case <-ctx.Done():
			return
		}
	}
}

func ExampleParseWatchdog() {
	d, err := systemd.ParseWatchdog("30000000", "", 1234)
	fmt.Println(d, err)
	_, err = systemd.ParseWatchdog("30000000", "1", 1234)
	fmt.Println(err)
	_, err = systemd.ParseWatchdog("30s", "", 1234)
	fmt.Println(err)
	// Output:
	// 30s <nil>
	// systemd: watchdog not enabled: WATCHDOG_PID=1 is not this process (1234)
	// systemd: WATCHDOG_USEC="30s": not a decimal count of microseconds
}
