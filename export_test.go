package sluice

import "time"

// SetSnapshotAckWarning sets how long Next waits after a snapshot's last
// row before it warns, and returns a function that restores it.
func SetSnapshotAckWarning(d time.Duration) func() {
	old := snapshotAckWarning
	snapshotAckWarning = d
	return func() { snapshotAckWarning = old }
}
