// Package canal is a server of Alibaba Canal's TCP protocol, so that
// existing Canal clients (canal-go, Canal's Java client, canal-python)
// read MySQL, MariaDB, PostgreSQL and MongoDB changes from Sluice without
// a change. "sluice canal serve" runs it; programs embed it with
// NewServer and Serve.
//
//	srv, err := canal.NewServer(canal.Config{
//		Listen:       ":11111",
//		Destinations: []canal.Destination{{Name: "example", URL: "mysql://repl:secret@db:3306/?server-id=4242"}},
//		Users:        []canal.User{{Name: "canal", Password: "s3cret"}},
//		Store:        store, // a checkpoint.Store
//	})
//	…
//	err = srv.ListenAndServe(ctx)
//
// # Layers
//
// wire.go is the protocol's framing and packets (proto/canal_protocol.proto),
// entry.go and values.go build Entry messages (proto/entry_protocol.proto)
// from change.Change values as Canal's own parser builds them; both append
// protobuf bytes by hand with protowire, no generated code and no
// intermediate structs. cursor.go is one (destination, client id): a
// pipeline.NewAsync pipeline whose AsyncSink it is, with Canal's batch
// bookkeeping (getWithoutAck, ack in order, rollback) over the deliveries
// it holds, and the batch it builds ahead for a connection's next GET
// while the client decodes the last. conn.go serves one connection;
// server.go accepts them.
//
// # Guarantees
//
// Every (destination, client id) reads its own copy of the source and
// saves its acknowledged position in the checkpoint store (id
// "canal/DESTINATION/CLIENTID"); an acknowledgement is saved before the
// next answer on its connection is complete (all of it but its last byte
// goes out while the store saves), so what a client saw acknowledged is
// never delivered again, and a restart loses nothing. Unacknowledged
// entries stay held, counted against the reader's queue bound, so memory is
// bounded in bytes whatever the transaction size.
//
// docs/canal.md documents the protocol as served, every entry field for
// every source, and the deliberate differences from Canal.
package canal
