//go:build !race

package format

// raceDetector: see race_on_test.go.
const raceDetector = false
