package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
)

// The open retries of a source that could not be opened at start: the
// delay doubles from waitMin to waitMax. A failure is logged when its
// message changes, and otherwise at most every waitLogEvery.
const (
	waitMin      = 500 * time.Millisecond
	waitMax      = 30 * time.Second
	waitLogEvery = 10 * time.Minute
)

// waitingSource stands in for a source that could not be opened at start
// (no camera plugged in yet, a device node not made yet): its Next retries
// the open with backoff, and once it succeeds reads the source it got. So
// catd starts, says "waiting for camera" in its log and status.json, and
// watches as soon as the camera is there, instead of exiting (which under
// Restart=on-failure is a restart every few seconds on a first boot).
type waitingSource struct {
	uri  string
	open func() (camera.Source, error)
	log  zerolog.Logger
	hint string // logged with the first failure, if set

	mu     sync.Mutex
	src    camera.Source // nil until opened
	closed bool
	done   chan struct{} // closed by Close

	lastErr atomic.Pointer[string] // the open's last failure; nil once open
}

// newWaitingSource returns a source that opens uri with open, first failure
// err (already seen by the caller), logged now with hint.
func newWaitingSource(uri string, open func() (camera.Source, error), first error, hint string, log zerolog.Logger) *waitingSource {
	w := &waitingSource{uri: uri, open: open, log: log, hint: hint, done: make(chan struct{})}
	msg := first.Error()
	w.lastErr.Store(&msg)
	ev := log.Warn().Err(first).Str("source", uri).Dur("retry_in", waitMin)
	if hint != "" {
		ev = ev.Str("hint", hint)
	}
	ev.Msg("waiting for camera")
	return w
}

// Waiting returns why the source is not open yet, or "" once it is.
func (w *waitingSource) Waiting() string {
	if p := w.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (w *waitingSource) String() string { return w.uri }

// Next opens the source if it is not open yet, retrying with backoff until
// it opens, ctx ends or Close is called; then it reads a frame from it.
func (w *waitingSource) Next(ctx context.Context, f *camera.Frame) error {
	w.mu.Lock()
	src := w.src
	w.mu.Unlock()
	if src == nil {
		var err error
		if src, err = w.wait(ctx); err != nil {
			return err
		}
	}
	return src.Next(ctx, f)
}

// wait retries the open until it succeeds.
func (w *waitingSource) wait(ctx context.Context) (camera.Source, error) {
	delay := waitMin
	t := time.NewTimer(delay)
	defer t.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.done:
			return nil, camera.ErrClosed
		case <-t.C:
		}
		src, err := w.open()
		if err == nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.closed {
				src.Close()
				return nil, camera.ErrClosed
			}
			w.src = src
			w.lastErr.Store(nil)
			w.log.Info().Str("source", w.uri).Msg("camera found: watching")
			return src, nil
		}
		delay = min(2*delay, waitMax)
		msg := err.Error()
		if prev := w.lastErr.Swap(&msg); prev == nil || *prev != msg || time.Since(lastLog) >= waitLogEvery {
			lastLog = time.Now()
			w.log.Warn().Err(err).Str("source", w.uri).Dur("retry_in", delay).Msg("waiting for camera")
		}
		t.Reset(delay)
	}
}

// Close closes the source if it was opened, and makes a waiting Next
// return camera.ErrClosed.
func (w *waitingSource) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	close(w.done)
	if w.src != nil {
		return w.src.Close()
	}
	return nil
}

// Stats are the opened source's, or zero.
func (w *waitingSource) Stats() camera.Stats {
	w.mu.Lock()
	src := w.src
	w.mu.Unlock()
	if r, ok := src.(camera.StatsReporter); ok {
		return r.Stats()
	}
	return camera.Stats{}
}

// cameraWaiter is a source that may still be waiting for its camera.
type cameraWaiter interface {
	Waiting() string // why it is not open yet, or "" once it is
}

var _ camera.StatsReporter = (*waitingSource)(nil)
