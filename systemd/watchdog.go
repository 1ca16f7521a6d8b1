package systemd

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// ErrNoWatchdog means the manager asked for no watchdog pings: either
// $WATCHDOG_USEC is unset, or $WATCHDOG_PID names another process (the
// variables were inherited from a parent). Errors of WatchdogTimeout and
// ParseWatchdog that wrap it are not faults.
var ErrNoWatchdog = errors.New("systemd: watchdog not enabled")

// WatchdogInterval returns the watchdog timeout the manager set for this
// process (WatchdogSec= in the unit) and whether pings are expected. Send
// WATCHDOG=1 at half of it. A malformed environment counts as no watchdog;
// WatchdogTimeout says why.
func WatchdogInterval() (time.Duration, bool) {
	d, err := WatchdogTimeout()
	return d, err == nil
}

// WatchdogTimeout is WatchdogInterval with the reason when pings are not
// expected: an error wrapping ErrNoWatchdog when the watchdog is simply
// off, or one naming the bad variable and value.
func WatchdogTimeout() (time.Duration, error) {
	usec, _ := os.LookupEnv("WATCHDOG_USEC")
	pid, _ := os.LookupEnv("WATCHDOG_PID")
	return ParseWatchdog(usec, pid, os.Getpid())
}

// ParseWatchdog interprets the values of $WATCHDOG_USEC and $WATCHDOG_PID
// ("" for unset) for process self, as sd_watchdog_enabled(3) does: usec is
// a positive decimal count of microseconds, and pid, when set, must equal
// self. It returns the timeout, or an error as WatchdogTimeout does.
func ParseWatchdog(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, fmt.Errorf("%w: WATCHDOG_USEC is not set", ErrNoWatchdog)
	}
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC=%q: not a decimal count of microseconds", usec)
	}
	// systemd uses UINT64_MAX (USEC_INFINITY) for "no timeout".
	if u == 0 || u == math.MaxUint64 {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC=%q: want a timeout between 1 µs and infinity, exclusive", usec)
	}
	if u > math.MaxInt64/uint64(time.Microsecond) {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC=%q: longer than a time.Duration holds", usec)
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("systemd: WATCHDOG_PID=%q: not a process id", pid)
		}
		if p != self {
			return 0, fmt.Errorf("%w: WATCHDOG_PID=%d is not this process (%d)", ErrNoWatchdog, p, self)
		}
	}
	return time.Duration(u) * time.Microsecond, nil
}
