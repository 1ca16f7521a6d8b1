package hook

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"catd/internal/childenv"
	"catd/internal/procgroup"
)

const (
	// maxLine is the longest output line logged whole, in bytes.
	maxLine = 512
	// maxLines is how many output lines of a run are logged, stdout and
	// stderr together.
	maxLines = 20
	// drainWait is how long the output is still read after SIGKILL, in
	// case a process outside the group holds it open.
	drainWait = 200 * time.Millisecond
)

// proc is one run of the command.
type proc struct {
	r              *Runner
	cmd            *exec.Cmd
	pid            int
	stdout, stderr *os.File      // read ends of the command's stdout and stderr
	lines          atomic.Int64  // output lines seen, logged or not
	finished       chan struct{} // closed once the output has ended and the command was reaped
	waitErr        error         // cmd.Wait's result, set before finished is closed
}

// run is one run of the command for ev, from start to the log of its end.
func (r *Runner) run(ev Event) {
	defer r.runs.Done()
	p, err := r.start(ev)
	if err != nil {
		r.opt.Log.Warn().Str("hook", r.name).Uint64("frame", ev.Frame).Err(err).
			Msg("hook: the command did not start")
		r.done(failed)
		return
	}
	begin := time.Now()
	r.opt.Log.Debug().Str("hook", r.name).Int("pid", p.pid).Uint64("frame", ev.Frame).
		Float32("p_cat", ev.PCat).Msg("hook: command started")
	expired := p.wait(r.opt.Timeout, r.killWait)
	r.done(p.report(expired, time.Since(begin), ev))
}

// start starts the command for ev in a process group of its own, with its
// stdout and stderr on pipes that two goroutines log, and a third goroutine
// that reaps it once they have ended.
func (r *Runner) start(ev Event) (*proc, error) {
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
	cmd := &exec.Cmd{
		Path:   r.path,
		Args:   r.args,
		Dir:    r.opt.Dir,
		Env:    r.environ(ev),
		Stdin:  nil, // /dev/null
		Stdout: outW,
		Stderr: errW,
	}
	procgroup.Set(cmd)
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &proc{r: r, cmd: cmd, pid: cmd.Process.Pid, stdout: outR, stderr: errR, finished: make(chan struct{})}
	var output sync.WaitGroup
	output.Go(func() { p.logOutput(outR, "stdout") })
	output.Go(func() { p.logOutput(errR, "stderr") })
	go func() {
		// The command stays unreaped until its output has ended, so its
		// process group ID cannot be reused while wait may signal it.
		output.Wait()
		p.waitErr = cmd.Wait()
		close(p.finished)
	}()
	return p, nil
}

// environ returns the command's environment for ev: the clean one of
// package childenv with the variables of Options.Env, then the CATD_
// variables (which replace any that Options.Env passes).
func (r *Runner) environ(ev Event) []string {
	return childenv.Make(os.Environ(), r.opt.Env, []string{
		"CATD_EVENT=" + ev.Kind,
		"CATD_P_CAT=" + strconv.FormatFloat(float64(ev.PCat), 'f', 4, 32),
		"CATD_FRAME=" + strconv.FormatUint(ev.Frame, 10),
		"CATD_TIME=" + ev.Time.UTC().Format(time.RFC3339Nano),
		"CATD_SNAPSHOT=" + ev.Snapshot,
		"CATD_MODEL=" + ev.Model,
		"CATD_MSG=" + cut(strings.ReplaceAll(ev.Msg, "\x00", ""), MaxMsg), // a NUL would fail the exec
	})
}

// wait waits for p to finish. After timeout it sends SIGTERM to p's process
// group, and SIGKILL killWait later. Once p has finished it kills whatever
// is left of the group and closes the output pipes. It reports whether the
// timeout expired.
func (p *proc) wait(timeout, killWait time.Duration) (expired bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.finished:
	case <-t.C:
		expired = true
		procgroup.Terminate(p.cmd)
		t.Reset(killWait)
		select {
		case <-p.finished:
		case <-t.C:
			procgroup.Kill(p.cmd)
			deadline := time.Now().Add(drainWait)
			p.stdout.SetReadDeadline(deadline)
			p.stderr.SetReadDeadline(deadline)
			<-p.finished
		}
	}
	procgroup.Kill(p.cmd) // members that closed their output and stayed
	p.stdout.Close()
	p.stderr.Close()
	return expired
}

// report logs how p ended (and how many output lines were not logged) and
// returns the outcome.
func (p *proc) report(expired bool, took time.Duration, ev Event) outcome {
	log := &p.r.opt.Log
	if n := p.lines.Load() - maxLines; n > 0 {
		log.Info().Str("hook", p.r.name).Int("pid", p.pid).Int64("more_lines", n).
			Msgf("hook: … %d more lines", n)
	}
	code := -1
	if ps := p.cmd.ProcessState; ps != nil {
		code = ps.ExitCode() // -1 when ended by a signal
	}
	o, e, msg := succeeded, log.Info(), "hook: command done"
	switch {
	case expired:
		o, e, msg = timedOut, log.Warn().Dur("timeout", p.r.opt.Timeout), "hook: command timed out"
	case p.waitErr != nil:
		o, e, msg = failed, log.Warn(), "hook: command failed"
	}
	e.Str("hook", p.r.name).Int("pid", p.pid).Uint64("frame", ev.Frame).
		Int("exit_code", code).Dur("duration", took).Err(p.waitErr).Msg(msg)
	return o
}

// logOutput logs the lines read from f, the command's stdout or stderr, up
// to the end. It reads to the end even when no more lines are logged, so the
// command never blocks on a full pipe.
func (p *proc) logOutput(f *os.File, stream string) {
	br := bufio.NewReaderSize(f, maxLine+1) // room for a whole line and its \n
	cutting := false                        // in the rest of a line that was cut
	for {
		b, err := br.ReadSlice('\n')
		if !cutting {
			p.logLine(stream, b, err == bufio.ErrBufferFull)
		}
		cutting = err == bufio.ErrBufferFull
		if err != nil && !cutting {
			return
		}
	}
}

// logLine logs one output line, cut to maxLine bytes when cut is set, unless
// it is blank or maxLines have been logged already.
func (p *proc) logLine(stream string, b []byte, cut bool) {
	b = bytes.TrimRight(b, "\r\n")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if p.lines.Add(1) > maxLines {
		return
	}
	e := p.r.opt.Log.Info().Str("hook", p.r.name).Int("pid", p.pid).Str("stream", stream)
	if cut {
		e = e.Bytes("line", trimPartialRune(b[:min(len(b), maxLine)])).Bool("cut", true)
	} else {
		e = e.Bytes("line", b)
	}
	e.Msg("hook: output")
}

// trimPartialRune drops an incomplete UTF-8 sequence from the end of b,
// where a cut may have split one.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
