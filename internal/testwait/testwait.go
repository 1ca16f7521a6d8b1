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
	if !Until(d, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Until waits up to d for cond to hold and reports whether it did, for tests
// that say more than For does when it does not (a goroutine dump, a log).
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
	return true
}
