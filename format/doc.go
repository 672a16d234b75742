// Package format turns changes into the messages that byte-writing sinks
// (stdout, file, Kafka, NATS, Redis, HTTP) send, in the format their
// consumers read:
//
//   - sluice (the default): Sluice JSON, lossless (docs/format.md);
//
// docs/formats.md shows every operation in every format and says, value
// kind by value kind, what each format can and cannot carry exactly.
//
// A format is chosen by name with options in URL query form, parsed by
// Parse and New: "debezium?schemas=true&decimal.handling.mode=string".
// Unknown names and options are errors listing the known ones.
//
// An Encoder appends the messages of each change to a Batch: zero or more
// Messages, each with an optional Key, a Value (nil for a tombstone),
// Headers and a Topic hint. The messages' bytes live in the Batch until
// its Reset, so an encoder that has seen a table's columns encodes its
// changes without allocating. AppendLines writes a Batch the way line
// sinks do: one value per line.
package format
