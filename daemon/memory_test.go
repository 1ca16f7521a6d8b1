package daemon

import (
	"bytes"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestMemoryGuard(t *testing.T) {
	var logs bytes.Buffer
	var limit int64
	const mib = 1 << 20
	// A runtime whose heap goal is the limit less 4 MiB of other memory,
	// or twice the live heap if that is lower (GOGC=100).
	live := uint64(10 * mib)
	read := func() (uint64, uint64) {
		goal := uint64(limit) - 4*mib
		if limit == math.MaxInt64 || goal > 2*live {
			goal = 2 * live
		}
		return live, goal
	}
	g := &memoryGuard{log: zerolog.New(&logs), read: read,
		setter: func(v int64) int64 { old := limit; limit = v; return old }}

	g.set(32 * mib)
	if limit != 32*mib {
		t.Fatalf("limit %d after set(32 MiB)", limit)
	}
	g.check() // 10 MiB live, goal 20 MiB: room enough
	if limit != 32*mib || logs.Len() != 0 {
		t.Errorf("limit %d, logs %q with 10 MiB live", limit, logs.String())
	}
	live = 22 * mib // goal 28 MiB: 1.27 times live, still enough
	g.check()
	if limit != 32*mib || logs.Len() != 0 {
		t.Errorf("limit %d, logs %q with 22 MiB live", limit, logs.String())
	}
	live = 24 * mib // goal 28 MiB is 1.17 times live: raise until the goal is 36 MiB
	g.check()
	if limit != 32*mib || logs.Len() != 0 {
		t.Errorf("limit %d MiB, logs %q: raised on the first tight check, which may be a passing peak", limit/mib, logs.String())
	}
	g.check()
	if limit != 40*mib || !strings.Contains(logs.String(), "raised") || !strings.Contains(logs.String(), `"level":"info"`) {
		t.Errorf("limit %d MiB with 24 MiB live, want 40 MiB and a warning; logs %q", limit/mib, logs.String())
	}
	logs.Reset()
	g.check() // no raising again while the live heap stays
	g.check()
	if limit != 40*mib || logs.Len() != 0 {
		t.Errorf("limit %d MiB, logs %q: raised again without the live heap growing", limit/mib, logs.String())
	}
	live = 60 * mib // the limit more than doubles: a warning
	g.check()
	g.check()
	if limit != 94*mib || !strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("limit %d MiB with 60 MiB live, want 94 MiB (a goal of 90) and a warning; logs %q", limit/mib, logs.String())
	}
	// The live heap falls back (the input that took it is gone): the
	// limit goes back to the setting.
	logs.Reset()
	live = 10 * mib
	g.check()
	if limit != 32*mib || !strings.Contains(logs.String(), "lowered back") {
		t.Errorf("limit %d MiB with 10 MiB live again, want the configured 32 MiB; logs %q", limit/mib, logs.String())
	}
	// One peak between two quiet checks (a large image decoded while the
	// guard looked) raises nothing.
	logs.Reset()
	live = 200 * mib
	g.check()
	live = 10 * mib
	g.check()
	live = 200 * mib
	g.check()
	live = 10 * mib
	g.check()
	if limit != 32*mib || logs.Len() != 0 {
		t.Errorf("limit %d MiB, logs %q after single peaks", limit/mib, logs.String())
	}

	// A new config value starts from itself again.
	g.set(100 * mib)
	if limit != 100*mib {
		t.Errorf("limit %d after set(100 MiB)", limit)
	}
	g.set(0)
	if limit != math.MaxInt64 {
		t.Errorf("limit %d after set(0), want none", limit)
	}
	live = 1 << 30
	g.check()
	if limit != math.MaxInt64 {
		t.Errorf("limit %d: raised while off", limit)
	}

	// GOMEMLIMIT in the environment: the config is not applied.
	env := &memoryGuard{log: zerolog.Nop(), read: func() (uint64, uint64) { return 1, 1 }, fromEnv: true,
		setter: func(v int64) int64 { t.Errorf("SetMemoryLimit(%d) with GOMEMLIMIT set", v); return 0 }}
	env.set(28 * mib)
	env.check()
}

// TestMemoryGuardSetsTheRuntime checks the real runtime limit is set and
// reads the live heap.
func TestMemoryGuardSetsTheRuntime(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	g := newMemoryGuard(zerolog.Nop())
	if g.fromEnv {
		t.Skip("GOMEMLIMIT is set")
	}
	g.set(1 << 40)
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("runtime limit %d, want %d", got, int64(1)<<40)
	}
	runtime.GC()
	if live, goal := heapStats(); live == 0 || goal < live {
		t.Errorf("live heap %d, heap goal %d", live, goal)
	}
}
