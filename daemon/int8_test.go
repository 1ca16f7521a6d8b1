package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

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
	r.event("config_reloaded")
	if st := r.status(func(s *Status) bool { return !strings.Contains(s.Model, "int8") }); strings.Contains(st.Model, "int8") {
		t.Errorf("model %q after int8 was turned off", st.Model)
	}
}
