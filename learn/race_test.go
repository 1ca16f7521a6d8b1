//go:build race

package learn

// raceEnabled: the race detector's runtime allocates now and then on its
// own, so allocation counts may differ by one or two between runs.
const raceEnabled = true
