package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"catd/config"
	"catd/internal/testwait"
)

// TestHooksPerEvent: on_detect runs on each event on_detect.events names,
// with CATD_EVENT saying which and CATD_MSG what a service event says; a
// cat_gone right after a cat_present runs although min_interval (60 s)
// has not passed, since each event has its own.
func TestHooksPerEvent(t *testing.T) {
	r := newRig(t)
	out := filepath.Join(r.dir, "events.txt")
	hook := fmt.Sprintf("on_detect:\n  command: 'echo \"$CATD_EVENT|$CATD_FRAME|$CATD_MSG\" >> %s'\n  events: [cat_present, cat_gone, config_refused]\n", out)
	conf := func(source, extra string) string {
		return fmt.Sprintf("source: %s\nmodel: %s\n%s%s", source, r.model, hook, extra)
	}
	r.start(conf("file:/fake/bright", ""))
	r.event(EventCatPresent)
	r.write(conf("file:/fake/dark", ""))
	gone := r.event(EventCatGone)
	r.write(conf("file:/fake/dark", "detect:\n  threshold: 3\n"))
	r.event(EventConfigRefused)
	r.write(conf("file:/fake/dark", "stats_every: 5s\n")) // config_reloaded: not named, runs nothing

	var lines []string
	testwait.For(t, "three runs of the hook", func() bool {
		b, _ := os.ReadFile(out)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(lines) >= 3
	})
	r.event(EventConfigReloaded)
	r.frames(10) // a run for config_reloaded, were there one, would have had time to start
	b, _ := os.ReadFile(out)
	lines = strings.Split(strings.TrimSpace(string(b)), "\n")
	var kinds []string
	for _, l := range lines {
		kinds = append(kinds, strings.Split(l, "|")[0])
	}
	if !slices.Equal(kinds, []string{"cat_present", "cat_gone", "config_refused"}) {
		t.Fatalf("hook ran for %q, want cat_present, cat_gone, config_refused", kinds)
	}
	if f := strings.Split(lines[1], "|"); f[1] != fmt.Sprint(gone.Frame) {
		t.Errorf("cat_gone run %q, want frame %d", lines[1], gone.Frame)
	}
	if !strings.Contains(lines[2], "detect.threshold: want a number in (0, 1)") {
		t.Errorf("config_refused run %q, want CATD_MSG with the reason", lines[2])
	}
}

// TestHookEventsAreEventKinds: every event on_detect.events may name is
// one of the daemon's event kinds.
func TestHookEventsAreEventKinds(t *testing.T) {
	kinds := []EventKind{EventCatPresent, EventCatGone, EventTrained, EventConfigReloaded, EventConfigRefused,
		EventCheckpoint, EventError}
	for _, e := range config.HookEvents {
		if !slices.Contains(kinds, EventKind(e)) {
			t.Errorf("on_detect.events allows %q, not an event kind of the daemon", e)
		}
	}
	if len(config.HookEvents) != len(kinds) {
		t.Errorf("on_detect.events allows %q, want every kind but stats: %q", config.HookEvents, kinds)
	}
}
