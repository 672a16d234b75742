// Package sinks registers the sinks Sluice ships — stdout://,
// file:///path.jsonl, kafka://brokers/?topic=…, nats://host/?stream=…,
// redis://host/?mode=… (and rediss://), https://hook/path (and http://),
// and mysql:// (mariadb://), postgres:// (postgresql://) to apply changes
// to a database — in a sink.Registry, the way package sources does for
// sources. A URL's scheme means a source or a sink by the registry it is
// looked up in: a mysql:// URL given to --to is this package's SQL sink.
package sinks

import (
	"context"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/sink/file"
	httpsink "github.com/sluice-cdc/sluice/sink/http"
	"github.com/sluice-cdc/sluice/sink/kafka"
	"github.com/sluice-cdc/sluice/sink/nats"
	"github.com/sluice-cdc/sluice/sink/redis"
	sqlsink "github.com/sluice-cdc/sluice/sink/sql"
	"github.com/sluice-cdc/sluice/sink/stdout"
)

// Builtin returns a new Registry holding every sink Sluice ships, with
// stdout:// writing to standard output.
func Builtin() *sink.Registry { return BuiltinTo(os.Stdout) }

// BuiltinTo is Builtin with stdout:// writing to w (a command's own output
// stream, a test buffer).
func BuiltinTo(w io.Writer) *sink.Registry {
	r := sink.NewRegistry()
	if err := Register(r, w); err != nil {
		panic(err) // a new registry holds no scheme yet
	}
	return r
}

// Register adds every sink Sluice ships to r, with stdout:// writing to w.
// It returns the first error (a scheme r already has) after trying them all.
func Register(r *sink.Registry, w io.Writer) error {
	openers := map[string]sink.Opener{
		"stdout": func(_ context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
			enc, err := lineEncoder(cfg)
			if err != nil {
				return nil, err
			}
			return stdout.FromURLTo(u, w, enc)
		},
		"file": func(_ context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
			enc, err := lineEncoder(cfg)
			if err != nil {
				return nil, err
			}
			return file.FromURL(u, enc)
		},
		"kafka": func(ctx context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
			c, err := kafka.FromURL(u)
			if err != nil {
				return nil, sink.BadURL(err)
			}
			c.Format, c.Logger = cfg.Format, cfg.Logger
			return kafka.New(ctx, c)
		},
		"mysql": openSQL, "mariadb": openSQL, "postgres": openSQL, "postgresql": openSQL,
		"redis": openRedis, "rediss": openRedis,
		"nats": openNATS,
		"http": openHTTP, "https": openHTTP,
	}
	var first error
	for _, scheme := range []string{"stdout", "file", "kafka", "mysql", "mariadb", "postgres", "postgresql", "redis", "rediss", "nats", "http", "https"} {
		if err := r.Register(scheme, openers[scheme]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openSQL opens the SQL sink (sink/sql) a mysql://, mariadb://,
// postgres:// or postgresql:// URL names.
func openSQL(ctx context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
	c, err := sqlsink.FromURL(u)
	if err != nil {
		return nil, sink.BadURL(err)
	}
	c.Logger = cfg.Logger
	return sqlsink.New(ctx, c)
}

// openRedis opens a redis:// or rediss:// sink (sink/redis).
func openRedis(ctx context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
	c, err := redis.FromURL(u)
	if err != nil {
		return nil, sink.BadURL(err)
	}
	c.Format, c.Logger = cfg.Format, cfg.Logger
	return redis.New(ctx, c)
}

// openNATS opens a nats:// sink (sink/nats).
func openNATS(ctx context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
	c, err := nats.FromURL(u)
	if err != nil {
		return nil, sink.BadURL(err)
	}
	c.Format, c.Logger = cfg.Format, cfg.Logger
	return nats.New(ctx, c)
}

// openHTTP opens an http:// or https:// webhook sink (sink/http).
func openHTTP(_ context.Context, u *url.URL, cfg sink.Config) (pipeline.Sink, error) {
	c, err := httpsink.FromURL(u)
	if err != nil {
		return nil, sink.BadURL(err)
	}
	c.Format, c.Logger = cfg.Format, cfg.Logger
	return httpsink.New(c)
}

// checkers check the URL of each sink Sluice ships without opening it:
// no file is created, no broker dialled. A new sink adds its check here
// beside its opener in Register (TestCheckEverySink holds them together).
var checkers = map[string]func(u *url.URL, cfg sink.Config) error{
	"stdout": func(u *url.URL, cfg sink.Config) error {
		enc, err := lineEncoder(cfg)
		if err != nil {
			return err
		}
		_, err = stdout.FromURLTo(u, io.Discard, enc)
		return err
	},
	"file": func(u *url.URL, cfg sink.Config) error {
		if _, err := lineEncoder(cfg); err != nil {
			return err
		}
		_, err := file.PathOf(u)
		return err
	},
	"kafka": checkFormatted(kafka.FromURL),
	"mysql": checkSQL, "mariadb": checkSQL, "postgres": checkSQL, "postgresql": checkSQL,
	"redis": checkFormatted(redis.FromURL), "rediss": checkFormatted(redis.FromURL),
	"nats": checkFormatted(nats.FromURL),
	"http": checkFormatted(httpsink.FromURL), "https": checkFormatted(httpsink.FromURL),
}

// checkFormatted checks the URL of a sink that takes a format: the
// format, then the URL's parameters.
func checkFormatted[C any](fromURL func(*url.URL) (C, error)) func(*url.URL, sink.Config) error {
	return func(u *url.URL, cfg sink.Config) error {
		if _, err := format.Parse(cfg.Format); err != nil {
			return err
		}
		_, err := fromURL(u)
		return err
	}
}

// checkSQL checks the URL of the SQL sink.
func checkSQL(u *url.URL, _ sink.Config) error {
	_, err := sqlsink.FromURL(u)
	return err
}

// Check checks a sink URL and format as Open would, without opening
// anything (for a config file checked before anything starts): the
// scheme must be registered in r and, for the sinks Sluice ships, the
// URL's parameters and the format must be valid. Errors name the address
// with its secrets masked.
func Check(r *sink.Registry, raw string, cfg sink.Config) error {
	u, _, err := r.Lookup(raw)
	if err != nil {
		return err
	}
	if check, ok := checkers[strings.ToLower(u.Scheme)]; ok {
		if err := check(u, cfg); err != nil {
			return r.Wrap(raw, err)
		}
	}
	return nil
}

// lineEncoder returns the encoder of cfg.Format for a line sink (no
// headers), nil for the default format, which the line sinks write
// directly.
func lineEncoder(cfg sink.Config) (format.Encoder, error) {
	spec, err := format.Parse(cfg.Format)
	if err != nil || spec.Name() == format.Default {
		return nil, err
	}
	return spec.New(format.Target{})
}
