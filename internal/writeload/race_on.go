//go:build race

package writeload

// raceDetector says whether the binary runs with the race detector, which
// makes a source several times slower: latency goals are checked without
// it.
const raceDetector = true
