package sink

import "errors"

// ErrBadURL matches (errors.Is) the errors of a sink that refuses its URL
// — an unknown parameter, a malformed value — as opposed to a failure to
// reach the destination. The CLI reports them as usage errors.
var ErrBadURL = errors.New("bad sink URL")

// BadURL marks err as ErrBadURL without changing its text (nil stays nil).
func BadURL(err error) error {
	if err == nil {
		return nil
	}
	return badURL{err}
}

type badURL struct{ err error }

func (e badURL) Error() string   { return e.err.Error() }
func (e badURL) Unwrap() []error { return []error{e.err, ErrBadURL} }
