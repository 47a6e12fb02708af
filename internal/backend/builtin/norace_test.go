//go:build !race

package builtin_test

// raceEnabled skips the slowest tests under the race detector.
const raceEnabled = false
