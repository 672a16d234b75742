package format

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/address"
)

// ErrInvalid is matched (errors.Is) by the errors of Parse and New for a
// format text or options that cannot be used: an unknown name or
// parameter, a malformed value, an option the sink cannot carry.
var ErrInvalid = errors.New("invalid format")

// invalid marks err as ErrInvalid without changing its text.
func invalid(err error) error { return invalidError{err} }

type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// Default is the name of the format sinks write unless told otherwise:
// Sluice JSON (docs/format.md).
const Default = "sluice"

// Target says what the sink an encoder writes for can carry.
type Target struct {
	// Headers is set for sinks whose messages carry headers (Kafka, NATS,
	// HTTP). A format option that puts data in headers (CloudEvents'
	// mode=binary) is refused for a sink without them.
	Headers bool
}

// options are a format's parsed options, able to build its encoder.
type options interface {
	// beginCommit reports whether the encoder needs begin and commit changes.
	beginCommit() bool
	// encoder returns a new encoder for t.
	encoder(t Target) (Encoder, error)
}

// entry is one format of the registry.
type entry struct {
	name    string
	summary string
	// parse reads the format's options; it must read every option it knows
	// (the caller rejects the rest).
	parse func(p *address.Params) (options, error)
}

// formats is the registry of format names, the default first.
var formats = []entry{
	{Default, "Sluice JSON lines, lossless (docs/format.md)", parseSluice},
	{"debezium", "Debezium's change event envelope (MySQL, PostgreSQL and MongoDB connectors)", parseDebezium},
	{"maxwell", "Maxwell's JSON rows", parseMaxwell},
	{"canal-json", "Canal's flat message, as its MQ mode writes it", parseCanal},
	{"cloudevents", "CloudEvents 1.0 events holding Sluice JSON (structured, or binary with ce_ headers)", parseCloudEvents},
}

// Names lists the format names, the default first.
func Names() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.name
	}
	return out
}

// Summary returns a one-line description of the named format, "" for an
// unknown name.
func Summary(name string) string {
	for _, f := range formats {
		if f.name == name {
			return f.summary
		}
	}
	return ""
}

// Spec is a format chosen by name, with its options checked.
type Spec struct {
	name string
	text string
	opts options
}

// Parse reads a format choice: a name, optionally followed by options in
// URL query form, the same way on the command line (--format) and in
// code:
//
//	debezium
//	debezium?schemas=true&decimal.handling.mode=string
//	cloudevents?mode=binary
//
// The empty text is the default format. Names are case-insensitive. An
// unknown name or option is an error listing the known ones; a malformed
// option value names the option and what it takes.
func Parse(text string) (Spec, error) {
	name, query, _ := strings.Cut(text, "?")
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		if query != "" {
			return Spec{}, invalid(fmt.Errorf("format %q: options without a format name", text))
		}
		name = Default
	}
	var f *entry
	for i := range formats {
		if formats[i].name == name {
			f = &formats[i]
		}
	}
	if f == nil {
		return Spec{}, invalid(fmt.Errorf("format %q: unknown format (known: %s)", name, strings.Join(Names(), ", ")))
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Spec{}, invalid(fmt.Errorf("format %s: options %q: %v", name, query, err))
	}
	p := address.NewParams(&url.URL{RawQuery: q.Encode()})
	opts, err := f.parse(p)
	if err == nil {
		err = p.Check()
	}
	if err != nil {
		return Spec{}, invalid(fmt.Errorf("format %s: %w", name, err))
	}
	return Spec{name: name, text: text, opts: opts}, nil
}

// Name returns the format's name ("sluice" for the zero Spec).
func (s Spec) Name() string {
	if s.name == "" {
		return Default
	}
	return s.name
}

// String returns the text s was parsed from.
func (s Spec) String() string {
	if s.text == "" {
		return s.Name()
	}
	return s.text
}

// NeedsBeginCommit reports whether the format needs the begin and commit
// changes of each transaction (Debezium's transaction metadata does):
// whoever runs the pipeline must then pass them to the sink
// (pipeline.WithBeginCommit(true)).
func (s Spec) NeedsBeginCommit() bool {
	return s.opts != nil && s.opts.beginCommit()
}

// New returns a new Encoder of the format for a sink that can carry what t
// says.
func (s Spec) New(t Target) (Encoder, error) {
	if s.opts == nil {
		return &sluiceEncoder{}, nil
	}
	e, err := s.opts.encoder(t)
	if err != nil {
		return nil, invalid(fmt.Errorf("format %s: %w", s.Name(), err))
	}
	return e, nil
}

// New parses text (see Parse) and returns a new Encoder of that format for
// a sink that can carry what t says. Sinks call it with the format text
// they were configured with (sink.Config.Format).
func New(text string, t Target) (Encoder, error) {
	s, err := Parse(text)
	if err != nil {
		return nil, err
	}
	return s.New(t)
}

// noOptions is the options of a format that takes none.
type noOptions struct{ newEncoder func() Encoder }

func (o noOptions) beginCommit() bool               { return false }
func (o noOptions) encoder(Target) (Encoder, error) { return o.newEncoder(), nil }
