// Package config reads the YAML file of `sluice run`: named pipelines,
// each a source, filters, transforms and a sink with the same settings as
// the flags of `sluice stream`, plus the process's log and HTTP settings.
//
// Everything is checked before anything starts. Each problem is reported
// as an *Error naming the file, the line and the dotted key
// ("sluice.yaml:14: pipelines.orders.mask: …"); an unknown key is an error,
// never ignored, and every problem of a file is reported at once.
//
// Values may refer to environment variables as ${NAME} (a missing variable
// is an error; $${ writes a literal ${), so secrets stay out of the file:
//
//	source: mysql://repl:${MYSQL_PASSWORD}@db:3306/?server-id=4242
//
// Relative state file paths are relative to the directory of the config
// file. The package knows nothing of running pipelines; Pipeline.Equal
// tells a reload which pipelines changed.
package config
