package systemd

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// JournalStream reports whether f is the journal's stream, as systemd says
// in $JOURNAL_STREAM: the "DEVICE:INODE" of the stream connection it gave
// the service as its stdout or stderr (systemd.exec(5)). The variable is
// inherited by anything the service starts, including a shell whose
// stderr goes elsewhere, so f's device and inode must match.
func JournalStream(f *os.File) bool {
	v := os.Getenv("JOURNAL_STREAM")
	devS, inoS, ok := strings.Cut(v, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// Syslog priorities, as the journal reads them from a "<N>" line prefix
// (sd-daemon(3)).
const (
	PriEmerg   = 0
	PriAlert   = 1
	PriCrit    = 2
	PriErr     = 3
	PriWarning = 4
	PriNotice  = 5
	PriInfo    = 6
	PriDebug   = 7
)

// PriorityWriter writes lines to the journal's stream with sd-daemon
// priority prefixes ("<4>…"), so that journalctl -p can filter them. It is
// safe for concurrent use; each line goes out in one write.
type PriorityWriter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// NewPriorityWriter returns a PriorityWriter on w.
func NewPriorityWriter(w io.Writer) *PriorityWriter { return &PriorityWriter{w: w} }

// WritePriority writes p, one or more lines, each prefixed with
// "<prio>"; prio is clamped to 0..7. It returns len(p) on success.
func (pw *PriorityWriter) WritePriority(prio int, p []byte) (int, error) {
	prio = min(max(prio, PriEmerg), PriDebug)
	n := len(p)
	pw.mu.Lock()
	defer pw.mu.Unlock()
	b := pw.buf[:0]
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		b = append(b, '<', byte('0'+prio), '>')
		b = append(b, line...)
		p = p[len(line):]
	}
	pw.buf = b
	if _, err := pw.w.Write(b); err != nil {
		return 0, err
	}
	return n, nil
}
