package daemon

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// apply (under the service's lock) and the learner (without it) both ask
// for int8 models, and the quantizer may have stopped: asking never blocks,
// and the newest request is the one waiting.
func TestQuantizeNeverBlocks(t *testing.T) {
	q := newQuantizer(&service{}, zerolog.Nop(), true) // not running: nobody takes requests
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				q.quantize(&loaded{})
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("quantize blocked with nobody taking requests")
	}
	last := &loaded{name: "last"}
	q.quantize(last)
	if got := <-q.req; got != last {
		t.Errorf("waiting request %q, want the newest", got.name)
	}
}

func TestServiceRunsInt8(t *testing.T) {
	defer func(d time.Duration) { sampleEvery = d }(sampleEvery)
	sampleEvery = time.Millisecond

	// The built-in model: its built-in int8 version, from the first frame.
	r := newRig(t)
	r.start("source: file:/fake/bright\ndetect:\n  int8: true\n")
	if st := r.status(func(s *Status) bool { return s.Frames > 0 }); st.Model != "built-in default model, int8" {
		t.Errorf("model %q, want the built-in int8 one", st.Model)
	}
	r.stop()

	// Another model: float32 first, int8 once frames were seen, and the
	// int8 model decides like the float one (bright frames: a cat).
	r = newRig(t)
	r.start(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\ndetect:\n  int8: true\n", r.model))
	st := r.status(func(s *Status) bool { return strings.HasSuffix(s.Model, ", int8") })
	if !strings.HasSuffix(st.Model, ", int8") {
		t.Fatalf("model %q, want an int8 one\n%s", st.Model, r.logs.String())
	}
	r.frames(5)
	if s := r.ctl.Snapshot(); !s.Present || s.PCat < 0.8 {
		t.Errorf("int8 model on bright frames: %+v", s)
	}
	// Turned off live: back to float32.
	r.write(fmt.Sprintf("source: file:/fake/bright\nmodel: %s\n", r.model))
	r.event(EventConfigReloaded)
	if st := r.status(func(s *Status) bool { return !strings.Contains(s.Model, "int8") }); strings.Contains(st.Model, "int8") {
		t.Errorf("model %q after int8 was turned off", st.Model)
	}
}
