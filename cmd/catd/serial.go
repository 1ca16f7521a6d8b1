package main

import (
	"errors"
	"fmt"
	"runtime"

	"catd/daemon"
	"catd/serialctl"
)

// console is what the serial console can ask of a running catd.
type console struct{ ctl *daemon.Control }

var errNotYet = errors.New("not in this version of catd (on-device learning and config reload are still to come)")

func (c console) Status() string {
	s := c.ctl.Snapshot()
	return fmt.Sprintf("cat=%v p=%.3f frames=%d threshold=%.3f", s.Present, s.PCat, s.Frames, s.Threshold)
}

func (console) Version() string {
	return fmt.Sprintf("catd %s commit %s %s", version, buildCommit(), runtime.GOARCH)
}

func (c console) SetThreshold(x float64) error {
	c.ctl.SetThreshold(float32(x))
	return nil
}

func (console) Label(class, frame string) error { return errNotYet }
func (console) Learn(on bool) error             { return errNotYet }
func (console) Save() error                     { return errNotYet }
func (console) Reload() error                   { return errNotYet }

// forward sends a daemon event to the serial console.
func forward(con *serialctl.Console, ev daemon.Event) {
	if ev.Stats != nil {
		s := ev.Stats
		con.Event(ev.Kind, serialctl.F("fps", s.FPS), serialctl.F("frames", s.Frames), serialctl.F("dropped", s.Dropped),
			serialctl.F("corrupt", s.Corrupt), serialctl.F("p50_ms", float64(s.LatencyP50.Microseconds())/1e3),
			serialctl.F("p99_ms", float64(s.LatencyP99.Microseconds())/1e3), serialctl.F("cat", s.Present))
		return
	}
	con.Event(ev.Kind, serialctl.F("p", ev.PCat), serialctl.F("frame", ev.Frame))
}
