package canal

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/sluice-cdc/sluice/pipeline"
)

// session is one client connection.
type session struct {
	srv  *Server
	nc   net.Conn
	br   *bufio.Reader // reads nc: an ack and the GET after it in one read
	log  *slog.Logger
	enc  *entryEncoder
	rbuf []byte
	wbuf []byte
	// pre is the batch being prepared for the next GET while the client
	// decodes the last answer, with its own encoder and buffer.
	pre     *prepared
	penc    *entryEncoder
	pbuf    []byte
	cursors map[*cursor]bool // the cursors this connection uses
	// Timeouts the client asked for (ClientAuth), else DefaultClientTimeout.
	readTimeout, writeTimeout time.Duration
	ctx                       context.Context
}

// clientError is a request the server refuses with Canal's error packet
// (an ACK with error_code and error_message), then closes the connection.
type clientError struct {
	code int32
	msg  string
}

func (e *clientError) Error() string { return fmt.Sprintf("error %d: %s", e.code, e.msg) }

func refuse(code int32, format string, args ...any) error {
	return &clientError{code: code, msg: fmt.Sprintf(format, args...)}
}

// serveConn runs one connection to its end. Every way it ends is logged:
// a client that closes, goes silent, sends a malformed or oversized
// packet, fails authentication or makes a request Canal refuses.
func (s *Server) serveConn(nc net.Conn) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ss := &session{srv: s, nc: nc, br: bufio.NewReaderSize(nc, 4096), log: s.log.With("client", nc.RemoteAddr().String()),
		enc: newEntryEncoder(s.cfg.TimeZone), penc: newEntryEncoder(s.cfg.TimeZone),
		cursors: map[*cursor]bool{}, readTimeout: DefaultClientTimeout, writeTimeout: DefaultClientTimeout, ctx: ctx}
	defer func() {
		nc.Close()
		if ss.pre != nil {
			<-ss.pre.done
		}
		for c := range ss.cursors {
			c.detach()
		}
	}()
	err := ss.handshake()
	for err == nil {
		var p packet
		if p, err = ss.read(ss.readTimeout); err == nil {
			err = ss.handle(p)
		}
	}
	ss.closeWith(err)
}

// closeWith logs why the connection ends and, for a refused request,
// sends Canal's error packet first.
func (ss *session) closeWith(err error) {
	var ce *clientError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		ss.log.Warn("refused a request, closing the connection", "code", ce.code, "error", ce.msg)
		ss.write(appendPacket(ss.wbuf[:0], pktAck, appendAck(nil, ce.code, ce.msg)))
	case errors.As(err, new(*cutError)):
		ss.log.Warn("closing the connection in the middle of an answer", "error", ss.srv.redactErr(err))
	case errors.Is(err, io.EOF):
		ss.log.Info("client disconnected")
	case errors.Is(err, errPacketTooLong):
		ss.log.Warn("closing the connection: oversized packet", "error", err)
	case errors.As(err, &ne) && ne.Timeout():
		ss.log.Warn("closing the connection: client silent or not reading", "error", err)
	case errors.Is(err, context.Canceled) && ss.srv.ctx.Err() != nil:
		ss.log.Info("closing the connection: server stopping")
	default:
		ss.log.Warn("closing the connection", "error", ss.srv.redactErr(err))
	}
}

// read reads one packet, waiting at most timeout.
func (ss *session) read(timeout time.Duration) (packet, error) {
	ss.nc.SetReadDeadline(time.Now().Add(timeout))
	b, err := readFrame(ss.br, ss.rbuf, maxClientPacket)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("connection closed inside a packet: %w", err)
		}
		return packet{}, err
	}
	ss.rbuf = b[:0]
	p, err := decodePacket(b)
	if err != nil {
		return packet{}, fmt.Errorf("malformed packet: %w", err)
	}
	return p, nil
}

// write sends bytes: whole packets, or the parts of one (send).
func (ss *session) write(b []byte) error {
	ss.nc.SetWriteDeadline(time.Now().Add(ss.writeTimeout))
	_, err := ss.nc.Write(b)
	return err
}

// cutError is a failure after part of an answer was sent: the connection
// closes without an error packet, which the client could not tell from
// the rest of the answer.
type cutError struct{ err error }

func (e *cutError) Error() string { return "answer cut: " + e.err.Error() }
func (e *cutError) Unwrap() error { return e.err }

// send sends an answer to a GET. An acknowledgement received before the
// GET must be saved before the client has the answer: the answer goes out
// at once when it is, else all of it but its last byte while the store
// saves (the client cannot decode a packet before its last byte), and the
// last byte once the position is saved.
func (ss *session) send(c *cursor, a answer) error {
	if c.isSaved(a) {
		return ss.write(a.b)
	}
	n := len(a.b) - 1
	if err := ss.write(a.b[:n]); err != nil {
		return err
	}
	if err := c.waitSaved(ss.ctx, a); err != nil {
		return &cutError{err}
	}
	return ss.write(a.b[n:])
}

// batchBuf returns b emptied, or a new buffer if b cannot take a batch of
// maxBytes: sized for one, so that appending does not grow it by half
// again (memory is what the server is bounded by).
func batchBuf(b []byte, maxBytes int) []byte {
	if n := maxBytes + entryBytes + 4<<10; cap(b) < n {
		return make([]byte, 0, n)
	}
	return b[:0]
}

// keep returns b emptied for reuse, unless it grew huge.
func keep(b []byte) []byte {
	if cap(b) > 4<<20 {
		return nil // do not keep a huge batch's buffer for a connection
	}
	return b[:0]
}

// handshake sends the seed, checks the client's credentials and answers.
func (ss *session) handshake() error {
	seed := make([]byte, 8)
	rand.Read(seed)
	if err := ss.write(appendPacket(ss.wbuf[:0], pktHandshake, appendHandshake(nil, seed))); err != nil {
		return err
	}
	p, err := ss.read(ss.srv.cfg.AuthTimeout)
	if err != nil {
		return err
	}
	if p.typ != pktClientAuth {
		return refuse(400, "expect CLIENTAUTHENTICATION but found %s", p.typ)
	}
	a, err := decodeClientAuth(p.body)
	if err != nil {
		return fmt.Errorf("malformed packet: %w", err)
	}
	if why := ss.srv.authenticate(a.username, a.password, seed, ss.nc.RemoteAddr()); why != "" {
		ss.log.Warn("authentication failed", "user", a.username, "reason", why)
		return refuse(400, "auth failed for user:%s", a.username)
	}
	ss.log = ss.log.With("user", a.username)
	if a.readTimeout > 0 {
		ss.readTimeout = time.Duration(a.readTimeout) * time.Millisecond
	}
	if a.writeTimeout > 0 {
		ss.writeTimeout = time.Duration(a.writeTimeout) * time.Millisecond
	}
	if a.destination != "" && a.clientID != "" {
		if err := ss.subscribe(a.destination, a.clientID, a.filter); err != nil {
			return err
		}
	}
	ss.log.Info("client authenticated")
	return ss.write(appendPacket(ss.wbuf[:0], pktAck, nil))
}

// authenticate returns why user may not log in with token, or "".
func (s *Server) authenticate(user string, token, seed []byte, from net.Addr) string {
	if len(s.creds) == 0 {
		if user != "" {
			return "no users are configured: only the empty user name is accepted"
		}
		if !isLoopback(from) {
			return "no users are configured: only loopback clients are accepted"
		}
		return ""
	}
	c, ok := s.creds[user]
	if !ok {
		return "no such user"
	}
	if !c.check(token, seed) {
		return "wrong password"
	}
	return ""
}

func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// handle serves one request.
func (ss *session) handle(p packet) error {
	switch p.typ {
	case pktSubscription:
		r, err := decodeSub(p.body)
		if err != nil {
			return fmt.Errorf("malformed packet: %w", err)
		}
		if err := ss.subscribe(r.destination, r.clientID, r.filter); err != nil {
			return err
		}
		return ss.answerAck()
	case pktUnsubscription:
		r, err := decodeSub(p.body)
		if err != nil {
			return fmt.Errorf("malformed packet: %w", err)
		}
		c, err := ss.lookup(r.destination, r.clientID)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.subbed, c.filter = false, ""
		c.mu.Unlock()
		if ss.cursors[c] {
			delete(ss.cursors, c)
			c.detach()
		}
		ss.log.Info("unsubscribed (the acknowledged position is kept)", "destination", r.destination, "client_id", r.clientID)
		return ss.answerAck()
	case pktGet:
		r, err := decodeGet(p.body)
		if err != nil {
			return fmt.Errorf("malformed packet: %w", err)
		}
		return ss.get(r)
	case pktClientAck:
		r, err := decodeBatchRef(p.body)
		if err != nil {
			return fmt.Errorf("malformed packet: %w", err)
		}
		switch r.batchID {
		case 0:
			return refuse(402, "batchId should assign value")
		case -1: // the answer to a GET with nothing in it
			return nil
		}
		c, err := ss.subscribed(r.destination, r.clientID)
		if err != nil {
			return err
		}
		if err := c.ack(r.batchID); err != nil {
			return refuse(400, "%v", err)
		}
		return nil
	case pktClientRollback:
		r, err := decodeBatchRef(p.body)
		if err != nil {
			return fmt.Errorf("malformed packet: %w", err)
		}
		c, err := ss.lookup(r.destination, r.clientID)
		if err != nil {
			return err
		}
		c.mu.Lock()
		subbed := c.subbed
		c.mu.Unlock()
		if !subbed {
			return nil // clients roll back before subscribing; Canal ignores it
		}
		if err := c.rollback(r.batchID); err != nil {
			return refuse(400, "%v", err)
		}
		return nil
	case pktHeartbeat:
		return nil
	}
	return refuse(400, "packet type=%s is NOT supported!", p.typ)
}

func (ss *session) answerAck() error {
	return ss.write(appendPacket(ss.wbuf[:0], pktAck, nil))
}

// lookup returns the cursor of a destination and client id.
func (ss *session) lookup(dest, clientID string) (*cursor, error) {
	if dest == "" || clientID == "" {
		return nil, refuse(401, "destination or clientId is null")
	}
	d := ss.srv.dests[dest]
	if d == nil {
		return nil, refuse(400, "destination:%s should start first", dest)
	}
	if !clientIDPattern.MatchString(clientID) {
		return nil, refuse(400, "clientId %q: want 1-32 letters, digits, '_' or '-'", clientID)
	}
	return ss.srv.cursor(d, clientID), nil
}

// subscribed returns the cursor if it was subscribed in this server's life.
func (ss *session) subscribed(dest, clientID string) (*cursor, error) {
	c, err := ss.lookup(dest, clientID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	ok := c.subbed
	c.mu.Unlock()
	if !ok {
		return nil, refuse(400, "ClientIdentity:%s/%s should subscribe first", dest, clientID)
	}
	if !ss.cursors[c] {
		ss.cursors[c] = true
		c.attach()
	}
	return c, nil
}

// subscribe subscribes the connection to a cursor with filter and starts
// its reader.
func (ss *session) subscribe(dest, clientID, filter string) error {
	c, err := ss.lookup(dest, clientID)
	if err != nil {
		return err
	}
	if _, err := pipeline.NewFilter(pipeline.FilterSpec{Include: caseInsensitive(filter)}); err != nil {
		return refuse(400, "filter %q: %v", filter, err)
	}
	if !ss.cursors[c] {
		ss.cursors[c] = true
		c.attach()
	}
	if err := c.ensure(filter, true); err != nil {
		return refuse(400, "destination %s: %v", dest, ss.srv.redactErr(err))
	}
	ss.log.Info("subscribed", "destination", dest, "client_id", clientID, "filter", filter)
	return nil
}

// get answers a GET.
func (ss *session) get(r get) error {
	c, err := ss.subscribed(r.destination, r.clientID)
	if err != nil {
		return err
	}
	if err := c.ensure("", false); err != nil {
		return refuse(400, "destination %s: %v", r.destination, ss.srv.redactErr(err))
	}
	req := getRequest{max: int(r.fetchSize), maxBytes: ss.srv.cfg.MaxBatchBytes}
	if req.max <= 0 {
		req.max = 1000
	}
	switch {
	case r.timeout < 0: // answer at once (Canal's tryGet)
	case r.timeout == 0: // until fetch_size entries, bounded by the client's own patience
		req.wait = ss.readTimeout
	default:
		req.wait = min(timeUnit(r.timeout, r.unit), ss.readTimeout)
	}
	pre := ss.pre
	ss.pre = nil
	if pre != nil {
		<-pre.done
	}
	a, err := c.get(ss.ctx, req, ss.enc, batchBuf(ss.wbuf, req.maxBytes), pre)
	if err != nil {
		if ss.ctx.Err() != nil {
			return err
		}
		return refuse(400, "destination %s: %v", r.destination, ss.srv.redactErr(err))
	}
	if r.autoAck && a.id > 0 {
		if err := c.ack(a.id); err != nil {
			return refuse(400, "%v", err)
		}
	}
	if err := ss.send(c, a); err != nil {
		if a.id > 0 && !r.autoAck {
			c.unfetch(a.id)
		}
		return err
	}
	switch {
	case a.pre:
		ss.wbuf, ss.pbuf = keep(a.b), ss.wbuf
	case pre != nil:
		ss.wbuf, ss.pbuf = keep(a.b), keep(pre.b)
	default:
		ss.wbuf = keep(a.b)
	}
	if a.id > 0 {
		// Build the next batch while the client decodes this one.
		ss.pre = c.prepare(req, ss.penc, batchBuf(ss.pbuf, req.maxBytes))
	}
	return nil
}

// timeUnit converts a GET timeout in Canal's units (0 ns, 1 µs, 2 ms,
// 3 s, 4 min, 5 h, 6 days; others ms).
func timeUnit(n int64, unit int32) time.Duration {
	u := time.Millisecond
	switch unit {
	case 0:
		u = time.Nanosecond
	case 1:
		u = time.Microsecond
	case 3:
		u = time.Second
	case 4:
		u = time.Minute
	case 5:
		u = time.Hour
	case 6:
		u = 24 * time.Hour
	}
	if n > int64(1<<62)/int64(u) {
		return 1 << 62
	}
	return time.Duration(n) * u
}
