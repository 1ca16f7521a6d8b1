package camera

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// clock is the time source of a paced source; tests substitute a fake.
type clock interface {
	Now() time.Time
	// Sleep blocks for d, or until ctx is done (returning ctx.Err()) or
	// done is closed (returning ErrClosed). It must not allocate.
	Sleep(ctx context.Context, done <-chan struct{}, d time.Duration) error
}

// wallClock is the real clock; it reuses one timer.
type wallClock struct {
	t *time.Timer
}

func realClock() clock { return &wallClock{} }

func (c *wallClock) Now() time.Time { return time.Now() }

func (c *wallClock) Sleep(ctx context.Context, done <-chan struct{}, d time.Duration) error {
	if c.t == nil {
		c.t = time.NewTimer(d)
	} else {
		c.t.Reset(d)
	}
	select {
	case <-c.t.C:
		return nil
	case <-ctx.Done():
		c.t.Stop()
		return ctx.Err()
	case <-done:
		c.t.Stop()
		return ErrClosed
	}
}

// pacer hands out frame times on a fixed grid start + n·period, like
// time.Ticker: a late caller does not shift the grid (no drift), and ticks
// missed by more than one period are dropped rather than delivered in a burst.
// A period of 0 never waits.
type pacer struct {
	clk    clock
	period time.Duration
	next   time.Time // zero until the first frame
}

// wait blocks until the next tick and returns the time after waking.
// The first tick is immediate.
func (p *pacer) wait(ctx context.Context, done <-chan struct{}) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	select {
	case <-done:
		return time.Time{}, ErrClosed
	default:
	}
	now := p.clk.Now()
	if p.period == 0 { // no pacing
		return now, nil
	}
	if p.next.IsZero() {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		if err := p.clk.Sleep(ctx, done, d); err != nil {
			return time.Time{}, err
		}
		now = p.clk.Now()
	} else if late := -d; late >= p.period {
		// Skip the ticks that were missed, keeping the phase.
		p.next = p.next.Add(late / p.period * p.period)
	}
	p.next = p.next.Add(p.period)
	return now, nil
}

// rateLog writes at most one warning per interval and counts the rest,
// reporting the count as "suppressed" in the next warning it writes.
type rateLog struct {
	log        zerolog.Logger
	every      time.Duration
	now        func() time.Time
	last       time.Time
	suppressed int
}

// corrupt counts a corrupt frame in counter and logs it, rate-limited.
func (r *rateLog) corrupt(counter *atomic.Uint64, src string, seq uint64, err error) {
	counter.Add(1)
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.suppressed++
		return
	}
	r.log.Warn().Str("source", src).Uint64("frame", seq).Int("suppressed", r.suppressed).
		Err(err).Msg("camera: corrupt frame skipped")
	r.last = now
	r.suppressed = 0
}
