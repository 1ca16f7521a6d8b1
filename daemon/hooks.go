package daemon

import (
	"github.com/rs/zerolog"

	"catd/config"
	"catd/hook"
)

// hookSet runs the on_detect command on the events on_detect.events
// names, with a runner per event: each event has its own min_interval and
// runs one at a time, so that a cat_gone right after a cat_present is not
// skipped for it.
type hookSet struct {
	runners map[EventKind]*hook.Runner
}

// newHookSet makes the runners of c; nil if c runs no command.
func newHookSet(c config.OnDetect, log zerolog.Logger) (*hookSet, error) {
	if c.Command.IsZero() {
		return nil, nil
	}
	h := &hookSet{runners: make(map[EventKind]*hook.Runner, len(c.Events))}
	for _, e := range c.Events {
		r, err := newRunner(c, log.With().Str("event", e).Logger())
		if err != nil {
			h.Close()
			return nil, err
		}
		h.runners[EventKind(e)] = r
	}
	return h, nil
}

// Fire runs the command for ev if its event is one of the set's, unless
// its runner skips it (hook.Runner.Fire). It never waits.
func (h *hookSet) Fire(ev hook.Event) bool {
	if r := h.runners[EventKind(ev.Kind)]; r != nil {
		return r.Fire(ev)
	}
	return false
}

// Close waits for the runs in progress (hook.Runner.Close).
func (h *hookSet) Close() {
	for _, r := range h.runners {
		r.Close()
	}
}

// hookEvent runs on_detect for an event other than cat_present (which
// snapshotLoop fires with its snapshot) and stats (never a hook's).
func (s *service) hookEvent(ev Event) {
	if ev.Kind == EventCatPresent || ev.Kind == EventStats {
		return
	}
	if h := s.hook.Load(); h != nil {
		h.Fire(hook.Event{Kind: string(ev.Kind), Time: ev.Time, Frame: ev.Frame, PCat: ev.PCat, Msg: ev.Msg,
			Model: *s.modelName.Load()})
	}
}
