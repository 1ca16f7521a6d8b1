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
	live := uint64(10 << 20)
	g := &memoryGuard{log: zerolog.New(&logs), live: func() uint64 { return live },
		setter: func(v int64) int64 { old := limit; limit = v; return old }}

	g.set(28 << 20)
	if limit != 28<<20 {
		t.Fatalf("limit %d after set(28 MiB)", limit)
	}
	g.check() // 10 MiB live: far from it
	if limit != 28<<20 || logs.Len() != 0 {
		t.Errorf("limit %d, logs %q with 10 MiB live", limit, logs.String())
	}
	live = 22 << 20 // less than 80 % of 28 MiB
	g.check()
	if limit != 28<<20 || logs.Len() != 0 {
		t.Errorf("limit %d, logs %q with 22 MiB live", limit, logs.String())
	}
	live = 24 << 20 // more than 80 %
	g.check()
	if limit != 30<<20 || !strings.Contains(logs.String(), "raised") {
		t.Errorf("limit %d with 24 MiB live, want 30 MiB and a warning; logs %q", limit, logs.String())
	}
	live = 48 << 20
	g.check()
	if limit != 60<<20 {
		t.Errorf("limit %d with 48 MiB live, want 60 MiB", limit)
	}
	// A new config value starts from itself again (and is raised at once
	// if it is already too low).
	g.set(100 << 20)
	if limit != 100<<20 {
		t.Errorf("limit %d after set(100 MiB)", limit)
	}
	g.set(32 << 20)
	if limit != 60<<20 {
		t.Errorf("limit %d after set(32 MiB) with 48 MiB live, want 60 MiB", limit)
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
	env := &memoryGuard{log: zerolog.Nop(), live: func() uint64 { return 0 }, fromEnv: true,
		setter: func(v int64) int64 { t.Errorf("SetMemoryLimit(%d) with GOMEMLIMIT set", v); return 0 }}
	env.set(28 << 20)
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
	if liveHeap() == 0 {
		t.Error("live heap reads 0")
	}
}
