package daemon

import (
	"math"
	"sync/atomic"
)

// Control lets other goroutines (the serial console) read the pipeline's
// state and override its decision threshold while Run runs. The zero value
// is ready; every method is safe for concurrent use and allocates nothing.
type Control struct {
	threshold atomic.Uint32 // float32 bits of the override; 0: none
	frames    atomic.Uint64
	pcat      atomic.Uint32 // float32 bits of the latest p(cat)
	present   atomic.Bool
	inUse     atomic.Uint32 // float32 bits of the threshold in force
}

// Snapshot is the pipeline's state at one moment.
type Snapshot struct {
	Frames    uint64  // frames inferred since start
	PCat      float32 // p(cat) of the latest frame
	Present   bool    // whether a cat is reported present
	Threshold float32 // the decision threshold in force
}

// SetThreshold overrides the decision threshold until the daemon restarts
// (x in (0, 1); 0 removes the override).
func (c *Control) SetThreshold(x float32) { c.threshold.Store(math.Float32bits(x)) }

// Snapshot returns the latest state. Its threshold is the override as soon
// as one is set, even before the next frame is judged by it.
func (c *Control) Snapshot() Snapshot {
	thr := c.inUse.Load()
	if b := c.threshold.Load(); b != 0 {
		thr = b
	}
	return Snapshot{Frames: c.frames.Load(), PCat: math.Float32frombits(c.pcat.Load()),
		Present: c.present.Load(), Threshold: math.Float32frombits(thr)}
}

// decisionThreshold returns the override if set, else base.
func (c *Control) decisionThreshold(base float32) float32 {
	if b := c.threshold.Load(); b != 0 {
		base = math.Float32frombits(b)
	}
	c.inUse.Store(math.Float32bits(base))
	return base
}

func (c *Control) record(p float32, present bool) {
	c.frames.Add(1)
	c.pcat.Store(math.Float32bits(p))
	c.present.Store(present)
}
