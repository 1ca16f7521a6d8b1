package testwait

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a TB that records a failure instead of stopping the test.
type recorder struct{ failed string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	go func() {
		for n.Load() < 3 {
			n.Add(1)
		}
	}()
	var r recorder
	For(&r, "three", func() bool { return n.Load() >= 3 })
	if r.failed != "" {
		t.Fatalf("For failed: %s", r.failed)
	}
}

func TestWithinFailsNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	var r recorder
	start := time.Now()
	Within(&r, 20*time.Millisecond, "the impossible", func() bool { return false })
	if want := "timed out waiting for the impossible"; r.failed != want {
		t.Errorf("failure %q, want %q", r.failed, want)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("gave up after %v, before its patience of 20ms", d)
	}
}

func TestUntil(t *testing.T) {
	t.Parallel()
	if !Until(time.Second, func() bool { return true }) {
		t.Error("Until(true) = false")
	}
	n := 0
	if !Until(time.Second, func() bool { n++; return n > 2 }) || n != 3 {
		t.Errorf("Until asked the condition %d times, want 3", n)
	}
	if Until(10*time.Millisecond, func() bool { return false }) {
		t.Error("Until(false) = true")
	}
}
