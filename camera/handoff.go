package camera

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// handoff passes the newest frame from a source's reader goroutine to
// Next, for the sources that read on their own (exec:, http:): a frame not
// taken before the next one is complete is replaced, never queued, and
// Next copies it out, so the reader never waits for the consumer.
type handoff struct {
	src string // the URI, for the corrupt-frame log

	// Owned by the reader goroutine.
	back    []byte // the frame being read
	seq     uint64
	corrupt rateLog

	mu         sync.Mutex
	latest     []byte // the newest complete frame
	latestSeq  uint64 // its Seq; 0 before the first frame
	latestTime time.Time
	sent       uint64 // Seq of the last frame Next delivered
	closed     bool

	ready        chan struct{} // a frame was published (capacity 1)
	done         chan struct{} // closed by Close
	frames, nbad atomic.Uint64
}

func newHandoff(src string, log zerolog.Logger) handoff {
	return handoff{src: src, corrupt: rateLog{log: log, every: corruptLogEvery, now: time.Now},
		ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// publish makes h.back the latest frame and wakes Next.
func (h *handoff) publish() time.Time {
	h.seq++
	now := time.Now()
	h.mu.Lock()
	h.back, h.latest = h.latest, h.back
	h.latestSeq, h.latestTime = h.seq, now
	h.mu.Unlock()
	select {
	case h.ready <- struct{}{}:
	default:
	}
	return now
}

// skip counts and logs one corrupt frame.
func (h *handoff) skip(err error) {
	h.seq++
	h.corrupt.corrupt(&h.nbad, h.src, h.seq, err)
}

// next waits for a frame newer than the last delivered and copies it into
// f; shape sets f's format and size.
func (h *handoff) next(ctx context.Context, f *Frame, shape func(*Frame)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return ErrClosed
		}
		if h.latestSeq > h.sent {
			f.Data = append(f.Data[:0], h.latest...)
			f.Seq, f.Time = h.latestSeq, h.latestTime
			shape(f)
			h.sent = h.latestSeq
			h.mu.Unlock()
			h.frames.Add(1)
			return nil
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.done:
			return ErrClosed
		case <-h.ready:
		}
	}
}

// stats counts the frames delivered and the corrupt ones.
func (h *handoff) stats() Stats { return Stats{Frames: h.frames.Load(), Corrupt: h.nbad.Load()} }
