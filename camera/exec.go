package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/internal/childenv"
	"catd/internal/procgroup"
)

// execSource is the exec: source: frames read from the standard output of a
// command such as rpicam-vid or ffmpeg.
//
// A supervisor goroutine runs the command, reads its stdout without pause
// (so the command never stalls on a full pipe) into a buffer the source
// owns, and publishes each complete frame as the latest; Next copies the
// latest frame it has not delivered yet into the caller's Frame. A consumer
// slower than the command therefore gets the newest frame, and the frames
// in between are dropped (a gap in Frame.Seq). The command's stderr is
// logged line by line, rate-limited.
//
// When the command exits, closes stdout or ends in the middle of a frame,
// its process group is stopped and it is started again after a delay that
// doubles from backoffMin to backoffMax and drops back to backoffMin once a
// run has delivered frames for resetAfter. Close stops the process group
// (SIGTERM, then SIGKILL after killWait) and waits for the supervisor.
type execSource struct {
	uri  string
	cfg  execConfig
	name string // base name of the command, for logs
	log  zerolog.Logger

	handoff // the frames; its mu also guards stdout

	// Owned by the supervisor goroutine.
	sp      *MJPEGSplitter
	scratch []byte      // MJPEG frame without DHT, before the tables are inserted
	lines   lineLimiter // stderr lines; used by one logStderr at a time

	stdout    *os.File      // the running command's stdout, for Close to interrupt
	restarts  atomic.Uint64 // start attempts after the first, for tests
	finished  chan struct{}
	closeOnce sync.Once
}

// execProc is one run of the command.
type execProc struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	exited         chan struct{} // closed once cmd.Wait returned
	waitErr        error         // cmd.Wait's result, set before exited is closed
	logged         chan struct{} // closed once stderr has been read to its end
}

// aLongTimeAgo is a read deadline that makes a blocked Read return at once.
var aLongTimeAgo = time.Unix(1, 0)

func openExec(uri string, c execConfig, log zerolog.Logger) (*execSource, error) {
	if _, err := exec.LookPath(c.args[0]); err != nil {
		return nil, err
	}
	s := &execSource{
		uri:      Redact(uri),
		cfg:      c,
		name:     filepath.Base(c.args[0]),
		log:      log,
		handoff:  newHandoff(Redact(uri), log),
		lines:    lineLimiter{burst: stderrBurst, every: stderrEvery},
		finished: make(chan struct{}),
	}
	if c.format == JPEG {
		s.sp = NewMJPEGSplitter(nil, c.maxFrame)
	}
	p, err := s.startProc()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.args[0], err)
	}
	go s.run(p)
	return s, nil
}

func (s *execSource) String() string { return s.uri }

func (s *execSource) Stats() Stats { return s.stats() }

// Close stops the command's process group and waits for it to exit, which
// takes up to killWait (2 s) for a command that ignores SIGTERM.
func (s *execSource) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.closed = true
		if s.stdout != nil {
			s.stdout.SetReadDeadline(aLongTimeAgo)
		}
		s.mu.Unlock()
		<-s.finished
	})
	return nil
}

func (s *execSource) Next(ctx context.Context, f *Frame) error {
	return s.next(ctx, f, func(f *Frame) {
		f.Format, f.W, f.H, f.Stride = s.cfg.format, s.cfg.w, s.cfg.h, s.cfg.stride
	})
}

// run is the supervisor: it reads p's frames, and restarts the command
// with backoff whenever it ends, until Close.
func (s *execSource) run(p *execProc) {
	defer close(s.finished)
	delay := s.cfg.backoffMin
	var t *time.Timer
	for {
		var err error
		if p != nil {
			n, first := s.serve(p)
			status := s.stopProc(p)
			if s.isClosed() {
				return
			}
			if !first.IsZero() && time.Since(first) >= s.cfg.resetAfter {
				delay = s.cfg.backoffMin
			}
			ev := s.log.Warn().Str("source", s.uri).Str("command", s.name).Int("pid", p.cmd.Process.Pid).
				Str("status", status).Uint64("frames", n).Dur("restart_in", delay)
			if k := s.lines.take(); k > 0 {
				ev = ev.Int("suppressed", k)
			}
			ev.Msg("camera: command ended")
		}
		if t == nil {
			t = time.NewTimer(delay)
		} else {
			t.Reset(delay)
		}
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, s.cfg.backoffMax)
		s.restarts.Add(1)
		if p, err = s.startProc(); err != nil {
			s.log.Error().Str("source", s.uri).Str("command", s.name).Err(err).
				Dur("retry_in", delay).Msg("camera: command did not start")
		}
	}
}

func (s *execSource) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// startProc starts the command with its stdout and stderr on pipes, in its
// own process group, and starts the goroutines that wait for it and log its
// stderr.
func (s *execSource) startProc() (*execProc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.Command(s.cfg.args[0], s.cfg.args[1:]...)
	cmd.Env = childenv.Make(os.Environ(), s.cfg.env, nil)
	cmd.Stdout, cmd.Stderr = outW, errW
	procgroup.Set(cmd)
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &execProc{cmd: cmd, stdout: outR, stderr: errR, exited: make(chan struct{}), logged: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		// Members of the group that outlive the command may hold stdout
		// open; give the rest of the output a moment, then stop reading.
		outR.SetReadDeadline(time.Now().Add(time.Second))
		close(p.exited)
	}()
	go s.logStderr(p)
	s.mu.Lock()
	s.stdout = outR
	if s.closed {
		outR.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()
	return p, nil
}

// stopProc ends p: SIGTERM to its group unless it has exited, SIGKILL after
// killWait, SIGKILL to what is left of the group, and waits for it and its
// stderr. It returns the exit status as text.
func (s *execSource) stopProc(p *execProc) string {
	select {
	case <-p.exited:
	default:
		procgroup.Terminate(p.cmd)
		t := time.NewTimer(s.cfg.killWait)
		select {
		case <-p.exited:
		case <-t.C:
			procgroup.Kill(p.cmd)
			<-p.exited
		}
		t.Stop()
	}
	procgroup.Kill(p.cmd)
	p.stderr.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	<-p.logged
	s.mu.Lock()
	s.stdout = nil
	s.mu.Unlock()
	p.stdout.Close()
	p.stderr.Close()
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	return p.waitErr.Error()
}

// serve reads p's frames until its stdout ends (or breaks off in a frame,
// or Close). It returns how many frames it published and when the first
// one was.
func (s *execSource) serve(p *execProc) (n uint64, first time.Time) {
	if s.sp != nil {
		s.sp.Reset(p.stdout)
	}
	for !s.isClosed() {
		var err error
		if s.sp != nil {
			err = s.readJPEG()
		} else {
			err = s.readRaw(p.stdout)
		}
		switch {
		case err == nil:
			now := s.publish()
			if n++; n == 1 {
				first = now
			}
			continue
		case errors.Is(err, ErrBadFrame):
			s.skip(err)
			continue
		case err == io.ErrUnexpectedEOF:
			s.skip(fmt.Errorf("%s: output ended in the middle of a frame", s.name))
		case err == io.EOF, errors.Is(err, os.ErrDeadlineExceeded):
		default:
			s.log.Warn().Str("source", s.uri).Str("command", s.name).Err(err).Msg("camera: reading command output")
		}
		break
	}
	return n, first
}

// readJPEG reads the next MJPEG frame into s.back, inserting the standard
// Huffman tables when it has none.
func (s *execSource) readJPEG() error {
	data, err := s.sp.Next(s.back)
	s.back = data
	if err != nil {
		return err
	}
	if dhtInsertPoint(data) > 0 {
		s.scratch = append(s.scratch[:0], data...)
		s.back = InsertHuffmanTables(s.back, s.scratch)
	}
	return nil
}

// readRaw reads one raw frame of the declared size into s.back.
func (s *execSource) readRaw(r io.Reader) error {
	s.back = resize(s.back, s.cfg.size)
	_, err := io.ReadFull(r, s.back)
	return err
}

// logStderr logs p's stderr a line at a time (a line ends at \n or \r, as
// in ffmpeg's progress output; longer lines than the buffer are cut) until
// it ends. It always keeps reading, so the command never blocks on stderr:
// lines over the rate limit are only counted.
func (s *execSource) logStderr(p *execProc) {
	defer close(p.logged)
	var buf [stderrLineMax]byte
	n := 0
	for {
		k, err := p.stderr.Read(buf[n:])
		n += k
		start := 0
		for i := n - k; i < n; i++ {
			if buf[i] == '\n' || buf[i] == '\r' {
				s.logLine(p, buf[start:i])
				start = i + 1
			}
		}
		if start == 0 && n == len(buf) {
			s.logLine(p, buf[:n])
			n = 0
		} else {
			n = copy(buf[:], buf[start:n])
		}
		if err != nil {
			s.logLine(p, buf[:n])
			return
		}
	}
}

// logLine logs one stderr line, at warn level when it mentions an error or
// a failure and at info level otherwise.
func (s *execSource) logLine(p *execProc, line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	suppressed, ok := s.lines.allow(time.Now())
	if !ok {
		return
	}
	ev := s.log.Info()
	if lineLooksBad(line) {
		ev = s.log.Warn()
	}
	if bytes.Contains(line, []byte("://")) {
		// Tools print their input URL in errors (ffmpeg: "rtsp://user:pass@cam/live: ...").
		line = []byte(redactCommand(string(line)))
	}
	ev = ev.Str("source", s.uri).Str("command", s.name).Int("pid", p.cmd.Process.Pid).Bytes("line", line)
	if suppressed > 0 {
		ev = ev.Int("suppressed", suppressed)
	}
	ev.Msg("camera: command stderr")
}

var badWords = [][]byte{[]byte("error"), []byte("fail"), []byte("fatal")}

func lineLooksBad(line []byte) bool {
	var lower [256]byte
	l := lower[:copy(lower[:], line)]
	for i, c := range l {
		if 'A' <= c && c <= 'Z' {
			l[i] = c + 'a' - 'A'
		}
	}
	for _, w := range badWords {
		if bytes.Contains(l, w) {
			return true
		}
	}
	return false
}

const (
	// stderrLineMax is the longest stderr line logged whole, in bytes.
	stderrLineMax = 4096
	// stderrBurst and stderrEvery limit stderr logging to a burst of lines
	// (a command's start-up banner) and then one line per interval.
	stderrBurst = 20
	stderrEvery = time.Second
)

// lineLimiter is a token bucket: up to burst lines at once, refilled at one
// line per every.
type lineLimiter struct {
	burst      int
	every      time.Duration
	tokens     float64
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged now and, if so, how many lines
// were suppressed since the last one logged.
func (l *lineLimiter) allow(now time.Time) (suppressed int, ok bool) {
	if l.last.IsZero() {
		l.tokens = float64(l.burst)
	} else {
		l.tokens = min(float64(l.burst), l.tokens+float64(now.Sub(l.last))/float64(l.every))
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return 0, false
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return suppressed, true
}

// take returns and clears the count of suppressed lines.
func (l *lineLimiter) take() int {
	n := l.suppressed
	l.suppressed = 0
	return n
}

// execConfig is a parsed exec: URI.
type execConfig struct {
	args     []string
	format   Format // JPEG for an MJPEG stream, else a raw format
	w, h     int    // raw formats: frame size in pixels
	stride   int    // raw formats: bytes per row (of the Y plane for I420 and NV12)
	size     int    // raw formats: bytes per frame
	maxFrame int    // MJPEG: largest frame in bytes

	env []string // names of catd's environment variables the command gets too

	// Restart and shutdown timing; tests shorten them.
	backoffMin, backoffMax time.Duration
	resetAfter             time.Duration
	killWait               time.Duration
}

func parseExecConfig(u sourceURI) (execConfig, error) {
	c := execConfig{
		format:     JPEG,
		backoffMin: 500 * time.Millisecond,
		backoffMax: 30 * time.Second,
		resetAfter: 10 * time.Second,
		killWait:   2 * time.Second,
	}
	var err error
	if c.args, err = splitCommandLine(u.path); err != nil {
		return c, err
	}
	if len(c.args) == 0 {
		return c, errors.New("exec: needs a command line (exec:rpicam-vid -t 0 -n --codec mjpeg -o -)")
	}
	if c.args[0] == "" {
		return c, errors.New("exec: the command name is empty")
	}
	if s, ok := u.take("env"); ok && s != "" {
		c.env = strings.Split(s, ",")
		for _, name := range c.env {
			if err := childenv.CheckName(name); err != nil {
				return c, fmt.Errorf("env=: %w", err)
			}
		}
	}
	if s, ok := u.take("format"); ok {
		switch strings.ToLower(s) {
		case "mjpeg", "jpeg":
			c.format = JPEG
		case "i420", "yuv420":
			c.format = I420
		case "nv12":
			c.format = NV12
		case "yuyv", "yuy2":
			c.format = YUYV
		case "rgb24", "rgb":
			c.format = RGB24
		case "gray8", "gray":
			c.format = Gray8
		default:
			return c, fmt.Errorf("format=%q: want mjpeg, i420, nv12, yuyv, rgb24 or gray8", s)
		}
	}
	if c.format == JPEG {
		if c.maxFrame, err = u.int("max", defaultMaxFrame, 1024, 1<<30); err != nil {
			return c, err
		}
		for _, k := range []string{"w", "h"} {
			if _, ok := u.q[k]; ok {
				return c, fmt.Errorf("%s= is for raw formats (format=i420...); MJPEG frames carry their size", k)
			}
		}
		return c, u.leftover()
	}
	for _, k := range []string{"w", "h"} {
		if _, ok := u.q[k]; !ok {
			return c, fmt.Errorf("format=%v needs the frame size: w= and h= in pixels", c.format)
		}
	}
	if c.w, err = u.int("w", 0, 1, maxSide); err != nil {
		return c, err
	}
	if c.h, err = u.int("h", 0, 1, maxSide); err != nil {
		return c, err
	}
	if c.format == YUYV && c.w%2 != 0 {
		return c, fmt.Errorf("w=%d: yuyv needs an even width", c.w)
	}
	c.stride, c.size = rawFrameSize(c.format, c.w, c.h)
	return c, u.leftover()
}

// rawFrameSize returns the row stride and the frame size in bytes of a
// packed w×h frame in a raw format (4:2:0 chroma planes are ⌈w/2⌉×⌈h/2⌉).
func rawFrameSize(f Format, w, h int) (stride, size int) {
	switch f {
	case I420, NV12:
		return w, w*h + 2*((w+1)/2)*((h+1)/2)
	case YUYV:
		return 2 * w, 2 * w * h
	case RGB24:
		return 3 * w, 3 * w * h
	case Gray8:
		return w, w * h
	}
	panic("camera: rawFrameSize of " + f.String())
}

// parseExecURI splits the part of an exec: URI after the colon into the
// command line and the options: "?QUERY -- COMMAND LINE", or the whole of
// it as the command line when it does not start with '?'.
func parseExecURI(rest string) (cmdline, rawQuery string, err error) {
	if !strings.HasPrefix(rest, "?") {
		return rest, "", nil
	}
	rawQuery, after := rest[1:], ""
	if i := strings.IndexAny(rawQuery, " \t"); i >= 0 {
		rawQuery, after = rawQuery[:i], strings.TrimLeft(rawQuery[i:], " \t")
	}
	cmdline, ok := strings.CutPrefix(after, "--")
	if !ok || (cmdline != "" && cmdline[0] != ' ' && cmdline[0] != '\t') {
		return "", "", errors.New(`exec: options go between "?" and " -- ", then the command line (exec:?format=i420&w=640&h=480 -- rpicam-vid ...)`)
	}
	return cmdline, rawQuery, nil
}

// splitCommandLine splits s into words the way a POSIX shell would for a
// simple command, without running one: words are separated by blanks
// (space, tab, newline); '...' quotes everything up to the next '; "..."
// quotes too, except that \" and \\ stand for " and \; outside quotes a
// backslash makes the next character literal. There is no expansion of
// variables, globs or ~, and no pipes or redirections: an unquoted |, ||,
// &, &&, ;, <, > or >> word is an error (run sh -c '...' for those).
func splitCommandLine(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	end := func() error {
		if !inWord {
			return nil
		}
		word := w.String()
		if !quoted {
			switch word {
			case "|", "||", "&", "&&", ";", "<", ">", ">>":
				return fmt.Errorf("exec: %q is shell syntax, but no shell is run (use exec:sh -c '...')", word)
			}
		}
		words = append(words, word)
		w.Reset()
		inWord, quoted = false, false
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n':
			if err := end(); err != nil {
				return nil, err
			}
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("exec: unterminated ' in the command line")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += 1 + j
			inWord, quoted = true, true
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				w.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errors.New(`exec: unterminated " in the command line`)
			}
			inWord, quoted = true, true
		case '\\':
			if i+1 == len(s) {
				return nil, errors.New(`exec: the command line ends with a lone \`)
			}
			i++
			w.WriteByte(s[i])
			inWord, quoted = true, true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if err := end(); err != nil {
		return nil, err
	}
	return words, nil
}
