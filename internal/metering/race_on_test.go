//go:build race

package metering_test

// raceEnabled: the race detector slows SQLite (and so each commit) by
// an order of magnitude.
const raceEnabled = true
