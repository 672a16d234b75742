package kafka

// gather waits for one item of queue (or for closing, then it returns
// false) and takes every item queued behind it at that moment, up to the
// queue's capacity, into group (reused): the flusher and the committer
// each handle everything queued when they begin, so their cost is shared
// as the load grows.
func gather[T any](queue chan T, closing <-chan struct{}, group []T) ([]T, bool) {
	var first T
	select {
	case first = <-queue:
	case <-closing:
		return group[:0], false
	}
	group = append(group[:0], first)
	for len(group) < cap(queue) {
		select {
		case g := <-queue:
			group = append(group, g)
		default:
			return group, true
		}
	}
	return group, true
}
