//go:build !race

package metering_test

const raceEnabled = false
