// Package serialctl is catd's serial console: it writes every event and a
// periodic status line to a serial port (a USB gadget's /dev/ttyGS0, a UART)
// and answers a small set of commands typed at the other end.
//
// The protocol is line based. Lines from the port end with \n, \r\n or a
// lone \r (what picocom and screen send). The commands are
//
//	help                          list the commands
//	status                        one line of state
//	version                       catd's version and model
//	label cat|noncat [FRAME]      label the latest frame, or a named review frame
//	threshold X                   override the threshold (0<X<1) until restart or the next config change
//	learn on|off                  turn on-device learning on or off
//	save                          write a checkpoint now
//	reload                        re-read the config file
//
// and each is answered by exactly one line starting "OK" or "ERR" (help
// first lists the commands on "HELP" lines). Hostile input is harmless:
// lines longer than Options.MaxLine bytes are discarded up to the next line
// end and answered once with "ERR line too long (max N bytes)"; lines with
// bytes other than printable ASCII get "ERR binary input ignored"; lines
// beyond Options.RatePerSec (burst 10) are dropped with one "ERR rate
// limited" per flood; frame names are plain names, never paths, and no
// command reads or writes a file the caller did not choose.
//
// Events go out as "EVT kind key=value ..." lines, or one JSON object per
// line; see Format. The port may be missing at start or vanish (USB
// unplug): Run logs it once, keeps queueing events in a bounded queue, and
// reopens the port with exponential backoff.
package serialctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Handler is what the daemon offers to the console. Status and Version
// return the text of the reply; the others return nil or the error to
// answer with "ERR <error>". Methods may be called from two goroutines at
// once (status lines are fetched apart from commands), and concurrently with
// the rest of the daemon.
type Handler interface {
	Status() string
	Version() string
	// SetThreshold overrides the decision threshold, 0 < x < 1, until
	// restart or the next config change.
	SetThreshold(x float64) error
	// Label labels the latest frame (frame == "") or the named review frame
	// as class "cat" or "noncat", and returns the reply's text: which frame
	// it was, its p(cat), and a warning if the model was confident of the
	// other class. frame matches ^[A-Za-z0-9._-]{1,64}$ and is not "." or
	// "..".
	Label(class, frame string) (string, error)
	Learn(on bool) error
	// Save writes a checkpoint now.
	Save() error
	// Reload re-reads the config file.
	Reload() error
}

// Options configures a Console. Zero values take the defaults noted.
type Options struct {
	Port   string // device path, e.g. /dev/ttyGS0; required
	Baud   int    // one of StandardBauds (default 115200)
	Format Format
	Log    zerolog.Logger
	// StatusEvery is the period of the STATUS line (default 60 s; negative
	// disables it).
	StatusEvery time.Duration
	// MaxLine is the longest command line kept, in bytes (default
	// DefaultMaxLine).
	MaxLine int
	// RatePerSec bounds the lines handled per second (default
	// DefaultRate), with a burst of Burst.
	RatePerSec float64
	// Queue is how many event lines wait while the port is down or slow
	// (default 64); more are dropped and counted.
	Queue int
	// Open opens the port (default OpenSerial: go.bug.st/serial, 8N1, no
	// modem bits touched).
	Open func(port string, baud int) (io.ReadWriteCloser, error)
}

// StandardBauds are the baud rates New accepts.
var StandardBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1500000, 2000000, 3000000, 4000000}

// Burst is how many lines may arrive at once before the rate limit applies.
const Burst = 10

// DefaultMaxLine is the longest command line taken, in bytes, and
// DefaultRate the command lines taken a second (after a Burst), unless
// Options say otherwise.
const (
	DefaultMaxLine = 256
	DefaultRate    = 5
)

const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	// stableAfter is how long a session must last for the backoff to start
	// again from minBackoff.
	stableAfter = 10 * time.Second
)

// Console is the serial console. Build it with New, run it with Run, feed it
// events with Event.
type Console struct {
	opt     Options
	h       Handler
	log     zerolog.Logger
	events  chan []byte
	dropped atomic.Uint64 // event lines lost: queue full, or a write failed
	handled atomic.Uint64 // command lines read (answered, refused or dropped)
	running atomic.Bool

	// tests shorten these
	minBackoff, maxBackoff time.Duration
	now                    func() time.Time
}

// New checks opt and returns a console for h. It does not open the port.
func New(opt Options, h Handler) (*Console, error) {
	if h == nil {
		return nil, errors.New("serialctl: no handler")
	}
	if opt.Port == "" {
		return nil, errors.New("serialctl: no port")
	}
	if !filepath.IsAbs(opt.Port) || strings.ContainsRune(opt.Port, 0) {
		return nil, fmt.Errorf("serialctl: port %q: want an absolute device path", opt.Port)
	}
	if opt.Baud == 0 {
		opt.Baud = 115200
	}
	if !slices.Contains(StandardBauds, opt.Baud) {
		return nil, fmt.Errorf("serialctl: port %s: baud %d is not a standard rate", opt.Port, opt.Baud)
	}
	if opt.Format != Text && opt.Format != JSON {
		return nil, fmt.Errorf("serialctl: port %s: format %v unknown", opt.Port, opt.Format)
	}
	if opt.StatusEvery == 0 {
		opt.StatusEvery = time.Minute
	}
	if opt.MaxLine <= 0 {
		opt.MaxLine = DefaultMaxLine
	}
	if opt.RatePerSec <= 0 {
		opt.RatePerSec = DefaultRate
	}
	if opt.Queue <= 0 {
		opt.Queue = 64
	}
	if opt.Open == nil {
		opt.Open = OpenSerial
	}
	return &Console{
		opt: opt, h: h,
		log:        opt.Log.With().Str("port", opt.Port).Logger(),
		events:     make(chan []byte, opt.Queue),
		minBackoff: minBackoff, maxBackoff: maxBackoff,
		now: time.Now,
	}, nil
}

// Event queues one event line, formatted now, for the port. It never
// blocks: when the queue is full the line is dropped and counted (see
// Dropped), and the next line written says how many were lost. Safe from
// any goroutine, before, during and after Run; fields are not retained.
func (c *Console) Event(kind string, fields ...Field) {
	line := appendEvent(make([]byte, 0, 64), c.opt.Format, kind, fields)
	select {
	case c.events <- line:
	default:
		c.dropped.Add(1)
	}
}

// Dropped returns how many event lines were lost so far.
func (c *Console) Dropped() uint64 { return c.dropped.Load() }

// Run owns the port until ctx is done: it opens it (retrying with
// exponential backoff from 0.5 s to 30 s, logging the first failure and the
// recovery once each), answers commands, writes events and status lines,
// and reopens the port when it fails. It returns nil when ctx is done,
// having closed the port and ended every goroutine it started. Run may be
// called once at a time.
func (c *Console) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("serialctl: Run called twice")
	}
	defer c.running.Store(false)
	backoff := c.minBackoff
	down := false // the port is known missing: failures are logged once
	var downSince time.Time
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return nil
		}
		port, err := c.opt.Open(c.opt.Port, c.opt.Baud)
		if err != nil {
			if !down {
				c.log.Warn().Err(err).Dur("retry", backoff).Msg("serial port unavailable; retrying in the background")
				down, downSince = true, c.now()
			} else {
				c.log.Debug().Err(err).Int("attempt", attempt).Msg("serial port still unavailable")
			}
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, c.maxBackoff)
			continue
		}
		if down {
			c.log.Info().Dur("down", c.now().Sub(downSince)).Int("attempts", attempt).Msg("serial port back")
		} else {
			c.log.Info().Int("baud", c.opt.Baud).Stringer("format", c.opt.Format).Msg("serial console open")
		}
		attempt, down = 0, false
		start := c.now()
		err = c.session(ctx, port)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn().Err(err).Msg("serial port lost; reopening in the background")
		down, downSince = true, c.now()
		if c.now().Sub(start) >= stableAfter {
			backoff = c.minBackoff
		}
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

// sleep waits d, or returns false when ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// session serves one opened port until it fails or ctx is done, and closes
// it. Three goroutines: this one (status ticks, supervision), input (reads,
// splits, limits, parses and handles commands) and output (the only
// writer).
func (c *Console) session(ctx context.Context, port io.ReadWriteCloser) error {
	done := make(chan struct{})
	out := make(chan []byte, 32) // replies and status lines
	errc := make(chan error, 2)
	outDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		errc <- c.input(port, out, done)
	}()
	go func() {
		defer wg.Done()
		defer close(outDone)
		errc <- c.output(port, out, done)
	}()
	var tick <-chan time.Time
	if c.opt.StatusEvery > 0 {
		t := time.NewTicker(c.opt.StatusEvery)
		defer t.Stop()
		tick = t.C
	}
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-errc:
			break loop
		case <-tick:
			select {
			case out <- appendStatus(nil, c.opt.Format, c.h.Status()):
			default: // output is stuck; the next tick will do
			}
		}
	}
	close(done)
	// A write blocked on a port nobody reads must not hold Run: give the
	// writer a moment, then discard the kernel's output buffer.
	select {
	case <-outDone:
	case <-time.After(100 * time.Millisecond):
		if f, ok := port.(interface{ ResetOutputBuffer() error }); ok {
			_ = f.ResetOutputBuffer()
		}
	}
	if cerr := port.Close(); cerr != nil {
		c.log.Debug().Err(cerr).Msg("closing serial port")
	}
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// output writes replies, status lines and queued events until done or a
// write fails.
func (c *Console) output(w io.Writer, out <-chan []byte, done <-chan struct{}) error {
	var reported uint64
	for {
		var line []byte
		isEvent := false
		select {
		case <-done:
			return nil
		case line = <-out:
		case line = <-c.events:
			isEvent = true
		}
		if d := c.dropped.Load(); d != reported {
			note := appendEvent(nil, c.opt.Format, "dropped", []Field{{"n", d - reported}})
			if _, err := w.Write(note); err != nil {
				c.lost(isEvent)
				return fmt.Errorf("serialctl: write %s: %w", c.opt.Port, err)
			}
			reported = d
		}
		if _, err := w.Write(line); err != nil {
			c.lost(isEvent)
			return fmt.Errorf("serialctl: write %s: %w", c.opt.Port, err)
		}
	}
}

func (c *Console) lost(isEvent bool) {
	if isEvent {
		c.dropped.Add(1)
	}
}

// input reads the port and answers each command line on out until the port
// fails or done.
func (c *Console) input(r io.Reader, out chan<- []byte, done <-chan struct{}) error {
	ls := newLineSplitter(c.opt.MaxLine)
	lim := NewLimiter(c.opt.RatePerSec, Burst, c.now())
	buf := make([]byte, 512)
	reply := func(ok bool, text string, lines []string) {
		select {
		case out <- appendReply(nil, c.opt.Format, ok, text, lines):
		case <-done:
		}
	}
	handle := func(line []byte, tooLong bool) {
		defer c.handled.Add(1)
		allowed, notify := lim.Allow(c.now())
		if !allowed {
			if notify {
				reply(false, "rate limited", nil)
				c.log.Warn().Msg("serial console flooded; dropping lines")
			}
			return
		}
		if tooLong {
			reply(false, "line too long (max "+strconv.Itoa(c.opt.MaxLine)+" bytes)", nil)
			return
		}
		c.command(string(line), reply)
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			ls.feed(buf[:n], handle)
		}
		if err != nil {
			select {
			case <-done:
				return nil
			default:
			}
			return fmt.Errorf("serialctl: read %s: %w", c.opt.Port, err)
		}
	}
}

// command parses and runs one line, answering through reply.
func (c *Console) command(line string, reply func(ok bool, text string, lines []string)) {
	cmd, err := ParseCommand(line)
	if errors.Is(err, ErrEmpty) {
		return
	}
	if err != nil {
		reply(false, err.Error(), nil)
		return
	}
	c.log.Info().Stringer("command", cmd.Op).Msg("serial command")
	text, lines, err := Execute(c.h, cmd)
	if err != nil {
		c.log.Warn().Err(err).Stringer("command", cmd.Op).Msg("serial command failed")
		reply(false, err.Error(), nil)
		return
	}
	reply(true, text, lines)
}

// Execute runs cmd, a command ParseCommand returned, on h and returns the
// text of its reply (and, for help, the lines listing the commands), or
// the error to answer with, prefixed with the command's name
// ("save: checkpoint not written: …"). The serial console and other
// command channels (MQTT) run commands through it, so that they answer
// alike.
func Execute(h Handler, cmd Command) (text string, lines []string, err error) {
	switch cmd.Op {
	case OpHelp:
		return "help: " + strconv.Itoa(int(numOps)) + " commands", HelpLines(), nil
	case OpStatus:
		text = h.Status()
	case OpVersion:
		text = h.Version()
	case OpThreshold:
		err = h.SetThreshold(cmd.Threshold)
		text = "threshold " + strconv.FormatFloat(cmd.Threshold, 'g', -1, 64) + " until restart or the next config change"
	case OpLabel:
		text, err = h.Label(cmd.Class, cmd.Frame)
	case OpLearn:
		err = h.Learn(cmd.On)
		text = "learning off"
		if cmd.On {
			text = "learning on"
		}
	case OpSave:
		err = h.Save()
		text = "checkpoint saved"
	case OpReload:
		err = h.Reload()
		text = "config reloaded"
	default:
		return "", nil, fmt.Errorf("command %v unknown", cmd.Op)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", cmd.Op, err)
	}
	return text, nil, nil
}

// lineSplitter cuts a byte stream into lines ending in \n, \r or \r\n,
// keeping at most max bytes of each; longer lines are reported once, when
// they overflow, and the rest is discarded up to the next line end. Empty
// lines are not reported.
type lineSplitter struct {
	buf     []byte
	discard bool
}

func newLineSplitter(max int) *lineSplitter {
	return &lineSplitter{buf: make([]byte, 0, max)}
}

// feed splits p, calling emit for each complete line (which emit must not
// retain) or, once per over-long line, with tooLong set.
func (s *lineSplitter) feed(p []byte, emit func(line []byte, tooLong bool)) {
	for _, b := range p {
		if b == '\n' || b == '\r' {
			if !s.discard && len(s.buf) > 0 {
				emit(s.buf, false)
			}
			s.buf, s.discard = s.buf[:0], false
			continue
		}
		if s.discard {
			continue
		}
		if len(s.buf) == cap(s.buf) {
			s.buf, s.discard = s.buf[:0], true
			emit(nil, true)
			continue
		}
		s.buf = append(s.buf, b)
	}
}

// Limiter is a token bucket over command lines: rate lines a second, in
// bursts of up to burst. Once it refuses a line, it asks for one notice,
// and asks again only after the bucket has filled up: one "rate limited"
// per flood. The console keeps one per session (DefaultRate, Burst); other
// command channels use the same. Not safe for concurrent use.
type Limiter struct {
	rate, burst, tokens float64
	last                time.Time
	noticed             bool
}

// NewLimiter returns a full bucket at time now.
func NewLimiter(rate float64, burst int, now time.Time) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// Allow takes a token for a line arriving at now: ok if the line may be
// handled; notify if it may not and the sender should be told so (once
// per flood).
func (l *Limiter) Allow(now time.Time) (ok, notify bool) {
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		l.tokens = min(l.burst, l.tokens+dt*l.rate)
	}
	l.last = now
	if l.tokens >= l.burst {
		l.noticed = false
	}
	if l.tokens >= 1 {
		l.tokens--
		return true, false
	}
	notify = !l.noticed
	l.noticed = true
	return false, notify
}
