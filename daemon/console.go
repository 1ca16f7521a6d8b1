package daemon

import (
	"context"
	"fmt"

	"catd/config"
	"catd/serialctl"
)

// consoleRun is a running serial console.
type consoleRun struct {
	con    *serialctl.Console
	cancel context.CancelFunc
	done   chan error
	port   string
}

// startConsole starts the serial console c describes (none when c.Port is
// empty); s.mu is held.
func (s *service) startConsole(ctx context.Context, c config.Serial) error {
	if c.Port == "" {
		return nil
	}
	format, err := serialctl.ParseFormat(c.Format)
	if err != nil {
		return err
	}
	con, err := serialctl.New(serialctl.Options{Port: c.Port, Baud: c.Baud, Format: format,
		Log: s.log.With().Str("serial", c.Port).Logger()}, s)
	if err != nil {
		return fmt.Errorf("daemon: serial console: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	r := &consoleRun{con: con, cancel: cancel, done: make(chan error, 1), port: c.Port}
	go func() { r.done <- con.Run(cctx) }()
	s.console = r
	s.consoleAt.Store(con)
	return nil
}

// stopConsole stops the running console, if any; s.mu is held.
func (s *service) stopConsole() {
	r := s.console
	if r == nil {
		return
	}
	s.console = nil
	s.consoleAt.Store(nil)
	r.cancel()
	if err := <-r.done; err != nil {
		s.log.Warn().Err(err).Str("serial", r.port).Msg("serial console")
	}
}

// consoleNow is the running console, or nil.
func (s *service) consoleNow() *serialctl.Console { return s.consoleAt.Load() }

// forward sends an event to the serial console.
func forward(con *serialctl.Console, ev Event) {
	switch {
	case ev.Stats != nil:
		st := ev.Stats
		con.Event(ev.Kind, serialctl.F("fps", st.FPS), serialctl.F("frames", st.Frames), serialctl.F("dropped", st.Dropped),
			serialctl.F("corrupt", st.Corrupt), serialctl.F("p50_ms", float64(st.LatencyP50.Microseconds())/1e3),
			serialctl.F("p99_ms", float64(st.LatencyP99.Microseconds())/1e3), serialctl.F("cat", st.Present))
	case ev.Msg != "":
		con.Event(ev.Kind, serialctl.F("msg", ev.Msg))
	default:
		con.Event(ev.Kind, serialctl.F("p", ev.PCat), serialctl.F("frame", ev.Frame))
	}
}
