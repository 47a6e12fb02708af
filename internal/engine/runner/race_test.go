//go:build race

package runner

// raceEnabled shortens the slowest tests under the race detector.
const raceEnabled = true
