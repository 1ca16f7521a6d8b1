// Package testwait is the one way catd's tests wait for something that happens in
// real time: a file a watcher must notice, a child process, a socket. Tests whose
// code under test only uses timers in its own goroutines use testing/synctest instead.
package testwait

import "time"

// Patience is how long For waits before failing the test. It is generous because
// the machines the suite runs on are sometimes busy; a passing test never waits it out.
const Patience = 15 * time.Second

// poll is how often For checks its condition.
const poll = 5 * time.Millisecond

// TB is the part of testing.TB that For uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// For waits until cond holds, checking every few milliseconds, and fails t with
// "timed out waiting for <what>" after Patience.
func For(t TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Patience, what, cond)
}

// Within is For with a patience of d.
func Within(t TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
			return
		}
		time.Sleep(poll)
	}
}
