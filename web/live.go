package web

import (
	"bytes"
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"catd/camera"
)

// live is the live view: offer copies a frame (at most every `every`, and
// only while a page asked for one in the last `idle`), run encodes it as
// JPEG on its own goroutine, and every viewer gets the same encoded bytes.
// Its memory is one frame copy and one JPEG, whatever the number of
// viewers.
type live struct {
	every, idle time.Duration
	now         func() time.Time

	wantUntil atomic.Int64 // unix ns: frames are copied until then
	next      atomic.Int64 // unix ns: no copy before then

	mu      sync.Mutex   // guards copy and pending
	copy    camera.Frame // its Data reused
	pending bool
	info    liveInfo // of copy
	kick    chan struct{}

	cur atomic.Pointer[liveFrame]
}

// liveInfo is what the page shows with a frame.
type liveInfo struct {
	Seq       uint64  `json:"seq"`
	PCat      float32 `json:"p_cat"`
	Threshold float32 `json:"threshold"`
	Cat       bool    `json:"cat"`
	Time      int64   `json:"time_ms"` // capture, Unix milliseconds
	// W and H are the frame's size in pixels (the JPEG shown may be
	// smaller); 0 for a JPEG or PNG frame, whose file has its size.
	W int `json:"w"`
	H int `json:"h"`
}

// liveFrame is an encoded frame; its fields never change.
type liveFrame struct {
	jpeg []byte
	info liveInfo
}

func newLive(every, idle time.Duration, now func() time.Time) *live {
	return &live{every: every, idle: idle, now: now, kick: make(chan struct{}, 1)}
}

// want notes that a page waits for frames.
func (l *live) want() {
	until := l.now().Add(l.idle).UnixNano()
	if l.wantUntil.Load() < until {
		l.wantUntil.Store(until)
	}
}

// offer copies f if a page wants frames and the last copy is old enough.
func (l *live) offer(f *camera.Frame, pcat, thr float32, present bool, now int64) {
	if now > l.wantUntil.Load() || now < l.next.Load() {
		return
	}
	if !l.mu.TryLock() { // the encoder is reading the last copy
		return
	}
	d := l.copy.Data
	l.copy = *f
	l.copy.Data = append(d[:0], f.Data...)
	l.info = liveInfo{Seq: f.Seq, PCat: pcat, Threshold: thr, Cat: present, Time: f.Time.UnixMilli(), W: f.W, H: f.H}
	l.pending = true
	l.mu.Unlock()
	l.next.Store(now + int64(l.every))
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// jpegEncoder is Host's part the encoder needs.
type jpegEncoder interface {
	JPEG(f *camera.Frame) ([]byte, error)
}

// run encodes the frames offer copied until ctx ends.
func (l *live) run(ctx context.Context, enc jpegEncoder) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		}
		l.mu.Lock()
		if !l.pending {
			l.mu.Unlock()
			continue
		}
		l.pending = false
		data, err := enc.JPEG(&l.copy)
		if err == nil && len(data) > 0 && &data[0] == &l.copy.Data[0] {
			data = bytes.Clone(data) // a JPEG frame is its own file: the copy is reused
		}
		info := l.info
		l.mu.Unlock()
		if err != nil {
			continue // a frame that does not encode is skipped, like the pipeline skips it
		}
		l.cur.Store(&liveFrame{jpeg: data, info: info})
	}
}

// latest is the newest encoded frame, or nil.
func (l *live) latest() *liveFrame { return l.cur.Load() }

// finite32 is x, or 0 if it is not finite (JSON cannot hold it).
func finite32(x float32) float32 {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return 0
	}
	return x
}
