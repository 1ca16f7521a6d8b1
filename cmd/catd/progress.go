package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows on a terminal what long work is doing and for how long,
// one line rewritten in place every period; a nil *progress (off a
// terminal: pipes, journald, tests) does nothing. The line is wiped by
// end, so that what the command prints afterwards starts clean.
type progress struct {
	w      io.Writer
	what   string
	mu     sync.Mutex
	stage  string
	start  time.Time // of the stage
	stop   chan struct{}
	done   chan struct{}
	period time.Duration
	once   sync.Once
}

// startProgress returns a progress line for what on w if w is a terminal,
// else nil.
func startProgress(w io.Writer, what string) *progress {
	if !onTerminal(w) {
		return nil
	}
	return newProgress(w, what, time.Second)
}

func newProgress(w io.Writer, what string, period time.Duration) *progress {
	p := &progress{w: w, what: what, stop: make(chan struct{}), done: make(chan struct{}), period: period, start: time.Now()}
	active.Store(p)
	go p.loop()
	return p
}

// active is the progress line on the terminal, if any: a command shows one
// at a time, and the log writes above it (aboveProgress).
var active atomic.Pointer[progress]

// aboveProgress writes log lines to a terminal above the progress line
// drawn there, if any, and draws the line again below them.
type aboveProgress struct{ w io.Writer }

func (a aboveProgress) Write(b []byte) (int, error) {
	p := active.Load()
	if p == nil || p.w != a.w {
		return a.w.Write(b)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, "\r\x1b[K")
	n, err := p.w.Write(b)
	p.drawLocked()
	return n, err
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(p.period)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// set starts a new stage and shows it at once.
func (p *progress) set(stage string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stage, p.start = stage, time.Now()
	p.mu.Unlock()
	p.draw()
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
}

// drawLocked draws the line; p.mu is held.
func (p *progress) drawLocked() {
	if p.stage == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s: %s (%.0f s)", p.what, p.stage, time.Since(p.start).Seconds())
}

// end stops the line and wipes it; later calls do nothing.
func (p *progress) end() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		active.CompareAndSwap(p, nil)
		close(p.stop)
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprint(p.w, "\r\x1b[K")
	})
}
