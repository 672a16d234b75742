package sink

import "github.com/sluice-cdc/sluice/checkpoint"

// StoreProvider is implemented by sinks that keep the pipeline's position
// themselves, written with the changes in one atomic step (see
// pipeline.PositionWriter): a Kafka sink in exactly-once mode. A caller
// that finds one runs the pipeline with the store it returns instead of a
// store of its own (the CLI then needs no state file). CheckpointStore
// returns nil when the sink, as configured, keeps no position.
type StoreProvider interface {
	CheckpointStore() checkpoint.Store
}
