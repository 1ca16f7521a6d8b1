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
// what is live before it runs; with one it collects more often as the heap
// nears the limit, which costs little while catd allocates nothing per
// frame. But a limit too close to what is live (a large model or replay
// buffer, or learning) would make the collector run back to back, so the
// guard watches the heap goal the runtime derives from the limit: when it
// falls below 1.25 times the live heap at two checks in a row, the guard
// raises the limit until the goal is 1.5 times the live heap, and says so;
// when the live heap falls again, it lowers the limit back toward the
// setting. GOMEMLIMIT in the environment wins over the config.
type memoryGuard struct {
	log     zerolog.Logger
	read    func() (live, goal uint64) // the live heap and the heap goal, bytes
	setter  func(int64) int64
	fromEnv bool

	mu         sync.Mutex
	configured int64 // memory_limit; 0: off
	effective  int64 // the limit in force (configured, or raised)
	tight      bool  // the last check found too little room
}

func newMemoryGuard(log zerolog.Logger) *memoryGuard {
	return &memoryGuard{log: log, read: heapStats, setter: debug.SetMemoryLimit, fromEnv: os.Getenv("GOMEMLIMIT") != ""}
}

// heapStats reads the live heap after the last collection and the heap
// size the collector aims to keep under.
func heapStats() (live, goal uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	for _, x := range s {
		if x.Value.Kind() != metrics.KindUint64 {
			return 0, 0
		}
	}
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// set applies the configured limit (0: none).
func (g *memoryGuard) set(limit int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fromEnv {
		g.log.Info().Str("GOMEMLIMIT", os.Getenv("GOMEMLIMIT")).Msg("memory limit from the environment; memory_limit ignored")
		return
	}
	g.configured, g.effective, g.tight = limit, limit, false
	if limit <= 0 {
		g.setter(math.MaxInt64)
		return
	}
	g.setter(limit)
}

// check raises the limit if it leaves the collector too little room at
// two checks in a row, and lowers it back toward the configured value
// once the live heap has fallen: one large input (an image being decoded
// when the guard looks) must not raise the limit for good.
func (g *memoryGuard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fromEnv || g.effective <= 0 {
		return
	}
	live, goal := g.read()
	if live == 0 {
		return
	}
	want := int64(3 * live / 2) // the limit that gives a goal of 1.5 times live
	if 4*goal >= 5*live {
		g.tight = false
		if g.effective > g.configured && g.effective > want+want/4 {
			next := max(g.configured, want)
			g.log.Info().Uint64("live_heap", live).Int64("memory_limit", g.configured).Int64("lowered_to", next).
				Msg("memory limit lowered back: the live heap has fallen")
			g.effective = next
			g.setter(next)
		}
		return
	}
	if !g.tight {
		g.tight = true // once may be a passing peak
		return
	}
	next := g.effective + want - int64(goal)
	// Learning on the built-in model takes the limit a little over the
	// default; more than twice the setting is worth a warning.
	ev := g.log.Info()
	if next > 2*g.configured {
		ev = g.log.Warn()
	}
	ev.Uint64("live_heap", live).Uint64("heap_goal", goal).Int64("memory_limit", g.configured).Int64("raised_to", next).
		Msg("memory limit raised: it left the collector too little room above the live heap")
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
