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
	// done is closed once this console's Run has returned, and with it the
	// Run of every console started before it.
	done chan struct{}
	port string
}

// startConsole starts the serial console c describes (none when c.Port is
// empty, or once ctx is done); s.mu is held. It runs once the console it
// replaces has let go of the port.
func (s *service) startConsole(ctx context.Context, c config.Serial) error {
	if c.Port == "" || ctx.Err() != nil {
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
	r := &consoleRun{con: con, cancel: cancel, done: make(chan struct{}), port: c.Port}
	var prev <-chan struct{}
	if s.lastConsole != nil {
		prev = s.lastConsole.done
	}
	go func() {
		defer close(r.done)
		if prev != nil {
			<-prev // one console owns the port at a time
		}
		if err := con.Run(cctx); err != nil {
			s.log.Warn().Err(err).Str("serial", r.port).Msg("serial console")
		}
	}()
	s.console, s.lastConsole = r, r
	s.consoleAt.Store(con)
	return nil
}

// stopConsole tells the running console, if any, to stop, without waiting
// for it: the caller may be that console's own command (a reload that
// changes the serial section). The next console waits for it to end, and
// so does waitConsoles; s.mu is held.
func (s *service) stopConsole() {
	r := s.console
	if r == nil {
		return
	}
	s.console = nil
	s.consoleAt.Store(nil)
	r.cancel()
}

// waitConsoles waits until every console started has stopped; s.mu must
// not be held, since a console's command may be waiting for it (a reload).
// Run's context must be done, so that no console starts any more.
func (s *service) waitConsoles() {
	s.mu.Lock()
	s.stopConsole()
	last := s.lastConsole
	s.mu.Unlock()
	if last != nil {
		<-last.done
	}
}

// consoleNow is the running console, or nil.
func (s *service) consoleNow() *serialctl.Console { return s.consoleAt.Load() }

// forward sends an event to the serial console.
func forward(con *serialctl.Console, ev Event) {
	switch {
	case ev.Stats != nil:
		st := ev.Stats
		con.Event(string(ev.Kind), serialctl.F("fps", st.FPS), serialctl.F("frames", st.Frames), serialctl.F("dropped", st.Dropped),
			serialctl.F("corrupt", st.Corrupt), serialctl.F("p50_ms", float64(st.LatencyP50.Microseconds())/1e3),
			serialctl.F("p99_ms", float64(st.LatencyP99.Microseconds())/1e3), serialctl.F("cat", st.Present))
	case ev.Msg != "":
		con.Event(string(ev.Kind), serialctl.F("msg", ev.Msg))
	default:
		con.Event(string(ev.Kind), serialctl.F("p", ev.PCat), serialctl.F("frame", ev.Frame))
	}
}
