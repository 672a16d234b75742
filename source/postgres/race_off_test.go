//go:build !race

package postgres

// raceDetector says whether the tests run with the race detector, which
// makes the source several times slower: latency goals are checked
// without it.
const raceDetector = false
