package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"

	"catd/internal/testwait"
)

// steadySource sends the same frame (every pixel pix) every 2 ms
// until closed or its context ends; it counts reads after Close.
type steadySource struct {
	name      string
	pix       uint8
	mu        sync.Mutex
	closed    bool
	afterStop int
	seq       uint64
}

func (s *steadySource) Next(ctx context.Context, f *camera.Frame) error {
	select {
	case <-time.After(2 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.afterStop++
	}
	s.seq++
	f.Seq, f.Time = s.seq, time.Now()
	f.Format, f.W, f.H, f.Stride = camera.RGB24, 8, 8, 24
	f.Data = f.Data[:0]
	for range 8 * 8 * 3 {
		f.Data = append(f.Data, s.pix)
	}
	return nil
}

func (s *steadySource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
func (s *steadySource) String() string { return s.name }

func TestUpdatesApplyLive(t *testing.T) {
	net, info := brightnessNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := make(chan Event, 100)
	updates := make(chan Update)
	dark := &steadySource{name: "dark", pix: 20}
	ctl := &Control{}
	done := make(chan error, 1)
	go func() {
		done <- RunPipeline(ctx, PipelineConfig{Source: dark, Net: net, Info: info, StatsEvery: -1, Control: ctl,
			Updates: updates, OnEvent: func(ev Event) { events <- ev }}, zerolog.Nop())
	}()
	apply := func(u Update) {
		t.Helper()
		ack := make(chan error, 1)
		u.Done = ack
		select {
		case updates <- u:
		case <-ctx.Done():
			t.Fatal("update not taken")
		}
		if err := <-ack; err != nil {
			t.Fatalf("update refused: %v", err)
		}
	}
	want := func(kind EventKind) {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if ev.Kind == kind {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", kind)
			}
		}
	}
	waitFrames := func(n uint64) {
		t.Helper()
		start := ctl.Snapshot().Frames
		deadline, _ := ctx.Deadline()
		testwait.Until(time.Until(deadline), func() bool { return ctl.Snapshot().Frames >= start+n || ctx.Err() != nil })
		if ctl.Snapshot().Frames < start+n {
			t.Fatalf("fewer than %d frames", n)
		}
	}
	waitFrames(5)
	if ctl.Snapshot().Present {
		t.Fatal("a cat in the dark")
	}

	// A new source: the old one is no longer read once the swap is acknowledged.
	bright := &steadySource{name: "bright", pix: 140}
	apply(Update{Source: bright})
	dark.Close()
	want(EventCatPresent)
	waitFrames(5)
	dark.mu.Lock()
	if dark.afterStop != 0 {
		t.Errorf("the old source was read %d times after the swap", dark.afterStop)
	}
	dark.mu.Unlock()

	// A stricter threshold than these frames reach (p = 0.91) clears the cat.
	apply(Update{Detect: &Detect{Threshold: 0.95, OffFrames: 2}})
	want(EventCatGone)
	if got := ctl.Snapshot().Threshold; got != 0.95 {
		t.Errorf("threshold in force %v", got)
	}

	// A model that sees cats in the dark, on the bright source: no cat;
	// then back to the dark source: a cat.
	inv, invInfo := brightnessNet(t)
	copy(inv.Params, []float32{-4, -4, -4, 0})
	apply(Update{Net: inv, Info: invInfo, ModelName: "inverted", Detect: &Detect{}})
	waitFrames(5)
	if ctl.Snapshot().Present || ctl.Snapshot().PCat > 0.2 {
		t.Fatalf("inverted model on bright frames: %+v", ctl.Snapshot())
	}
	dark2 := &steadySource{name: "dark2", pix: 20}
	apply(Update{Source: dark2})
	want(EventCatPresent)

	// A classifier is refused and the running model stays.
	cls, _ := brightnessNet(t)
	cls.Arch.Layers[len(cls.Arch.Layers)-1].Out = 5
	ack := make(chan error, 1)
	updates <- Update{Net: cls, Info: invInfo, Done: ack}
	if err := <-ack; err == nil {
		t.Error("a 5-output model was taken as a detector")
	}
	waitFrames(3)
	if !ctl.Snapshot().Present {
		t.Error("the refused model replaced the running one")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
