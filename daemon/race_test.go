//go:build race

package daemon

// raceEnabled: the race detector allocates on its own account.
const raceEnabled = true
