//go:build race

package model

// raceEnabled: the race detector makes sync.Pool drop items on purpose,
// so pooled objects are allocated again now and then.
const raceEnabled = true
