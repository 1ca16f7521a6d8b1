// Package systemd speaks the parts of systemd's service protocol that catd
// needs when it runs as a Type=notify unit: readiness, stopping, status and
// watchdog notifications over $NOTIFY_SOCKET (the sd_notify(3) protocol),
// and the watchdog interval from $WATCHDOG_USEC and $WATCHDOG_PID
// (sd_watchdog_enabled(3)). It is pure Go and needs no libsystemd.
//
// The unit file catd ships with lives next to this package, in catd.service.
package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// sendTimeout bounds one notification: systemd reads its notify socket
// promptly, and a daemon must never hang because the manager is busy.
const sendTimeout = 2 * time.Second

// maxSocketPath is the longest path a sockaddr_un holds on Linux (108
// bytes including the terminating NUL).
const maxSocketPath = 107

// Notifier sends notifications to the service manager over one unixgram
// socket opened by NewNotifier. Its methods are safe for concurrent use.
// A nil *Notifier, like one made when $NOTIFY_SOCKET is unset, accepts
// every notification and sends nothing.
type Notifier struct {
	addr *net.UnixAddr // nil when there is no socket; never changes

	mu     sync.Mutex
	conn   *net.UnixConn // nil after a failed reconnect or Close
	closed bool
}

// NewNotifier reads $NOTIFY_SOCKET once and connects to it. With the
// variable unset or empty it returns a Notifier whose methods do nothing.
// The socket is a file system path, or a Linux abstract socket when it
// starts with '@'. An error names the socket and leaves nothing open.
func NewNotifier() (*Notifier, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return &Notifier{}, nil
	}
	if name[0] != '/' && name[0] != '@' {
		return nil, fmt.Errorf("systemd: NOTIFY_SOCKET %q: want an absolute path or an abstract socket starting with '@'", name)
	}
	if len(name) > maxSocketPath {
		return nil, fmt.Errorf("systemd: NOTIFY_SOCKET %q: longer than %d bytes", name, maxSocketPath)
	}
	n := &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
	if err := n.dial(); err != nil {
		return nil, err
	}
	return n, nil
}

// dial connects n.conn to n.addr; n.mu is held or n is not shared yet.
func (n *Notifier) dial() error {
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("systemd: notify socket %s: %w", n.addr.Name, err)
	}
	n.conn = c
	return nil
}

// Enabled reports whether notifications go anywhere, that is whether
// $NOTIFY_SOCKET was set when n was made.
func (n *Notifier) Enabled() bool {
	return n != nil && n.addr != nil
}

// Notify sends state verbatim as one datagram: newline-separated
// VARIABLE=value assignments such as "READY=1\nSTATUS=watching". If the
// manager's socket went away and came back (systemctl daemon-reexec), the
// send is retried once on a fresh connection. After Close, Notify returns
// an error unless n was a no-op Notifier.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	if state == "" {
		return errors.New("systemd: empty notification")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("systemd: notify %s: notifier closed", n.addr.Name)
	}
	if n.conn == nil {
		if err := n.dial(); err != nil {
			return err
		}
	}
	err := n.send(state)
	if err != nil {
		// A connected datagram socket stays bound to the old receiver;
		// reconnect to whatever now listens on the address and try again.
		n.conn.Close()
		n.conn = nil
		if derr := n.dial(); derr != nil {
			return fmt.Errorf("systemd: notify %s: %w (reconnect: %v)", n.addr.Name, err, derr)
		}
		err = n.send(state)
	}
	return err
}

// send writes one datagram on n.conn; n.mu is held.
func (n *Notifier) send(state string) error {
	if err := n.conn.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("systemd: notify %s: %w", n.addr.Name, err)
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd: notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready tells the manager that start-up is finished (READY=1). Under
// Type=notify the unit stays "activating" until then.
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells the manager that shutdown has begun (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog keeps the watchdog from firing (WATCHDOG=1). Send it at half
// the interval WatchdogInterval reports, and only while the service is
// making progress.
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Status sets the one-line status shown by systemctl status (STATUS=msg).
// Line breaks in msg become spaces, since each line of a notification is a
// separate assignment.
func (n *Notifier) Status(msg string) error {
	return n.Notify("STATUS=" + strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg))
}

// Close closes the socket. Later notifications fail, except on a no-op
// Notifier. Close is idempotent.
func (n *Notifier) Close() error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// Notify sends state once, on a socket opened and closed for the call: for
// one-off notifications. With $NOTIFY_SOCKET unset it does nothing and
// returns nil. A long-running service should keep a Notifier instead.
func Notify(state string) error {
	n, err := NewNotifier()
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Notify(state)
}
