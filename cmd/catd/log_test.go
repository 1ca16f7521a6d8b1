package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
)

// TestJournalPriorities: with stderr the journal's stream, each log line
// starts with its syslog priority; with JOURNAL_STREAM naming another
// stream (inherited by a child whose stderr goes elsewhere), none does.
func TestJournalPriorities(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	var level atomic.Int32
	level.Store(int32(zerolog.DebugLevel))
	logAll := func() string {
		t.Helper()
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		log := newLogger(levelFilter{w: f, level: &level}, f, false)
		log.Debug().Msg("d")
		log.Info().Msg("i")
		log.Warn().Msg("w")
		log.Error().Msg("e")
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)))
	lines := strings.Split(strings.TrimSpace(logAll()), "\n")
	want := []string{"<7>{", "<6>{", "<4>{", "<3>{"}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) {
			t.Errorf("line %d %q, want the prefix %q", i, l, want[i])
		}
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)+1))
	if out := logAll(); strings.Contains(out, "<6>") || !strings.HasPrefix(out, "{") {
		t.Errorf("prefixes on a stream that is not the journal: %q", out)
	}
}

// TestLogTimesHaveMilliseconds: JSON times carry milliseconds.
func TestLogTimesHaveMilliseconds(t *testing.T) {
	var b bytes.Buffer
	var level atomic.Int32
	log := newLogger(levelFilter{w: &b, level: &level}, &b, false)
	log.Info().Msg("x")
	if !regexp.MustCompile(`"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}`).MatchString(b.String()) {
		t.Errorf("log line %q: want a time with milliseconds", b.String())
	}
}
