package daemon

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// memoryGuard keeps the Go runtime's soft memory limit at the config's
// memory_limit. Without a limit the collector lets the heap grow to twice
// what is live before it runs, which on a board is the difference between
// fitting the budget and not: catd's live heap is small and allocates
// nothing per frame, so collecting more often near the limit costs little.
// A soft limit below what is live would make the collector run without
// end, so when the live heap passes 80 % of the limit the guard raises the
// limit to 1.25 times the live heap (as if GOGC were 25), and says so. GOMEMLIMIT in the environment wins over the
// config.
type memoryGuard struct {
	log     zerolog.Logger
	live    func() uint64 // bytes of live heap after the last collection
	setter  func(int64) int64
	fromEnv bool

	mu         sync.Mutex
	configured int64 // memory_limit; 0: off
	effective  int64 // the limit in force (configured, or raised)
}

func newMemoryGuard(log zerolog.Logger) *memoryGuard {
	return &memoryGuard{log: log, live: liveHeap, setter: debug.SetMemoryLimit, fromEnv: os.Getenv("GOMEMLIMIT") != ""}
}

// liveHeap reads the live heap of the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// set applies the configured limit (0: none).
func (g *memoryGuard) set(limit int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fromEnv {
		g.log.Info().Str("GOMEMLIMIT", os.Getenv("GOMEMLIMIT")).Msg("memory limit from the environment; memory_limit ignored")
		return
	}
	g.configured, g.effective = limit, limit
	if limit <= 0 {
		g.setter(math.MaxInt64)
		return
	}
	g.setter(limit)
	g.raiseLocked()
}

// check raises the limit if the live heap has passed 80 % of it.
func (g *memoryGuard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.raiseLocked()
}

func (g *memoryGuard) raiseLocked() {
	if g.fromEnv || g.effective <= 0 {
		return
	}
	live := int64(g.live())
	if 5*live <= 4*g.effective {
		return
	}
	next := live * 5 / 4
	g.log.Warn().Int64("live_heap", live).Int64("memory_limit", g.configured).Int64("raised_to", next).
		Msg("the live heap is near memory_limit: limit raised so that the collector does not run without end (lower learn.replay_per_class, or raise memory_limit)")
	g.effective = next
	g.setter(next)
}

// run checks the limit every period until ctx ends.
func (g *memoryGuard) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			g.check()
		case <-ctx.Done():
			return
		}
	}
}
