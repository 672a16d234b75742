//go:build race

package format

// raceDetector says whether the tests run with the race detector. Under it
// sync.Pool drops items at random, so encoding/json.Valid (which pools its
// scanners) allocates now and then: allocation counts are checked without
// it (make test runs them so).
const raceDetector = true
