package kafka

import "sync"

// firstError keeps the first failure of an asynchronous side and closes
// failed with it, so that a waiting Send wakes up.
type firstError struct {
	errMu  sync.Mutex
	err    error
	failed chan struct{} // closed with err; made by the owner's init
}

// fail keeps err unless a failure came first.
func (f *firstError) fail(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.failed)
	}
}

// failure returns the first failure, or nil.
func (f *firstError) failure() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}
