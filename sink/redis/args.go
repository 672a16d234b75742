package redis

import "strconv"

// bulk is one argument of a command, handed to go-redis as an
// encoding.BinaryMarshaler: a pointer into a reused slab, so that building
// a batch's arguments allocates nothing once the slab has grown.
type bulk struct{ b []byte }

// MarshalBinary returns the argument's bytes.
func (b *bulk) MarshalBinary() ([]byte, error) { return b.b, nil }

// arg is an argument being built: a prepared interface value (a constant,
// a *string), bytes given directly, or a span of the builder's buffer
// (resolved in finish, once the buffer no longer moves).
type arg struct {
	iface    any
	direct   []byte
	off, end int
	isDirect bool
}

// argv builds the arguments of one EVALSHA call. Everything it holds is
// reused by the next batch (reset).
type argv struct {
	buf  []byte
	list []arg
	slab []bulk
	args []any
	// cmd is the index in list of the running command's count, -1 when
	// no command is open.
	cmd int
}

// reset empties a for a new call.
func (a *argv) reset() {
	a.buf = a.buf[:0]
	clear(a.list)
	a.list = a.list[:0]
	clear(a.slab)
	a.slab = a.slab[:0]
	clear(a.args)
	a.args = a.args[:0]
	a.cmd = -1
}

// lit adds a prepared interface value: a string constant boxed once, or a
// *string that stays unchanged until the call returns.
func (a *argv) lit(v any) { a.list = append(a.list, arg{iface: v}) }

// direct adds bytes that stay unchanged until the call returns.
func (a *argv) direct(b []byte) {
	a.list = append(a.list, arg{direct: b, isDirect: true})
}

// bytes adds a copy of b.
func (a *argv) bytes(b []byte) {
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	a.list = append(a.list, arg{off: off, end: len(a.buf)})
}

// str adds a copy of s.
func (a *argv) str(s string) {
	off := len(a.buf)
	a.buf = append(a.buf, s...)
	a.list = append(a.list, arg{off: off, end: len(a.buf)})
}

// int adds n in decimal.
func (a *argv) int(n int64) {
	off := len(a.buf)
	a.buf = strconv.AppendInt(a.buf, n, 10)
	a.list = append(a.list, arg{off: off, end: len(a.buf)})
}

// open starts a command for the script: its argument count, set by close.
func (a *argv) open() {
	a.cmd = len(a.list)
	a.list = append(a.list, arg{})
}

// close ends the command opened last, writing its argument count.
func (a *argv) close() {
	n := len(a.list) - a.cmd - 1
	off := len(a.buf)
	a.buf = strconv.AppendInt(a.buf, int64(n), 10)
	a.list[a.cmd] = arg{off: off, end: len(a.buf)}
	a.cmd = -1
}

// mark is a point to roll back to.
type mark struct{ buf, list int }

func (a *argv) mark() mark { return mark{len(a.buf), len(a.list)} }

// rollback drops what was added since m.
func (a *argv) rollback(m mark) {
	a.buf = a.buf[:m.buf]
	clear(a.list[m.list:])
	a.list = a.list[:m.list]
	a.cmd = -1
}

// finish returns the arguments as go-redis takes them.
func (a *argv) finish() []any {
	nb := 0
	for i := range a.list {
		if a.list[i].iface == nil {
			nb++
		}
	}
	if cap(a.slab) < nb {
		a.slab = make([]bulk, nb, nb+nb/4)
	}
	a.slab = a.slab[:nb]
	if cap(a.args) < len(a.list) {
		a.args = make([]any, 0, len(a.list)+len(a.list)/4)
	}
	a.args = a.args[:0]
	j := 0
	for i := range a.list {
		x := &a.list[i]
		switch {
		case x.iface != nil:
			a.args = append(a.args, x.iface)
			continue
		case x.isDirect:
			a.slab[j].b = x.direct
		default:
			a.slab[j].b = a.buf[x.off:x.end:x.end]
		}
		a.args = append(a.args, &a.slab[j])
		j++
	}
	return a.args
}
