package leasetest

import "github.com/sluice-cdc/sluice/change"

func checkpointPos(n uint64) change.Position {
	return change.Position{Flavor: change.FlavorLSN, Offset: n}
}
