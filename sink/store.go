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

// StoreWrapper is implemented by sinks that must record something of their
// own in the pipeline's checkpoint store, in step with the position: the
// HTTP sink notes the end of each request before sending it, so that after
// a crash it repeats the interrupted request with the same changes and the
// same Idempotency-Key. A caller that runs the pipeline with a store of its
// own hands it to WrapStore and runs the pipeline with the store returned.
type StoreWrapper interface {
	WrapStore(checkpoint.Store) checkpoint.Store
}
