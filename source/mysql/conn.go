package mysql

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/sluice-cdc/sluice/source"
)

// Commands of the replication protocol.
const (
	comRegisterSlave  = 0x15
	comBinlogDump     = 0x12
	comBinlogDumpGTID = 0x1e

	// binlogThroughGTID is the COM_BINLOG_DUMP_GTID flag that says the
	// request carries a GTID set.
	binlogThroughGTID = 0x04

	// mariaSlaveCapabilityGTID is MARIA_SLAVE_CAPABILITY_GTID: the replica
	// understands GTID events (and therefore gets them instead of BEGIN).
	mariaSlaveCapabilityGTID = 4
)

// replica is one connection to the server in the replica role. It is not
// safe for concurrent use; watch closes it when a context ends.
type replica struct {
	c       *client.Conn
	cfg     *Config
	tls     *tls.Config // the TLS configuration the connection used, nil for none
	mariadb bool
	version string
	buf     []byte
	// queryAttrs is set when the connection speaks MySQL's query
	// attributes (CLIENT_QUERY_ATTRIBUTES, MySQL 8.0.23 on; go-mysql asks
	// for them whenever the server offers them): COM_QUERY and
	// COM_STMT_EXECUTE then carry a parameter count first (see
	// appendQuery, appendExecute).
	queryAttrs bool
}

// dial connects and authenticates, with TLS when cfg.TLS is set. With
// cfg.TLSOptional, a Unix socket goes without TLS, and so does a server
// that does not offer it (after a first attempt with TLS). Context
// cancellation aborts a dial in progress and, afterwards, closes the
// connection (which unblocks a read).
func dial(ctx context.Context, cfg *Config) (*replica, error) {
	network := "tcp"
	if strings.Contains(cfg.Addr, "/") {
		network = "unix"
	}
	t := cfg.TLS
	if t != nil && cfg.TLSOptional && network == "unix" {
		t = nil
	}
	r, err := dialTLS(ctx, cfg, network, t)
	if errors.Is(err, errNoServerTLS) && cfg.TLSOptional {
		return dialTLS(ctx, cfg, network, nil)
	}
	return r, err
}

// errNoServerTLS: TLS was asked for and the server does not offer it.
var errNoServerTLS = errors.New("the server does not offer TLS")

// dialTLS is dial with the TLS configuration t (nil: plain text).
func dialTLS(ctx context.Context, cfg *Config, network string, t *tls.Config) (*replica, error) {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.Heartbeat}
	opts := []client.Option{
		func(c *client.Conn) error {
			c.ReadTimeout = cfg.readTimeout()
			c.WriteTimeout = cfg.DialTimeout
			return nil
		},
		func(c *client.Conn) error { return c.SetCollation("utf8mb4_general_ci") },
	}
	if t != nil {
		t := t.Clone()
		opts = append(opts, func(c *client.Conn) error { c.SetTLSConfig(t); return nil })
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	type result struct {
		c   *client.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := client.ConnectWithDialer(dctx, network, cfg.Addr, cfg.User, cfg.Password, "", d.DialContext, opts...)
		done <- result{c, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-dctx.Done():
		// The handshake itself ignores the context; wait for it to fail or
		// finish, and drop the connection.
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, dialTimedOut(ctx, cfg)
	}
	if res.err != nil && dctx.Err() != nil {
		return nil, dialTimedOut(ctx, cfg)
	}
	if res.err != nil {
		if se := serverError(res.err); se != nil {
			return nil, fmt.Errorf("mysql: connect to %s as %q: %w", cfg.Addr, cfg.User, se)
		}
		// go-mysql's words for a handshake without CLIENT_SSL.
		if t != nil && strings.Contains(res.err.Error(), "does not support TLS required by the client") {
			return nil, fmt.Errorf("mysql: connect to %s: %w (tls=on and tls=skip-verify require it; tls=prefer goes on in plain text)", cfg.Addr, errNoServerTLS)
		}
		return nil, fmt.Errorf("mysql: connect to %s: %w", cfg.Addr, cleanConnErr(res.err))
	}
	r := &replica{c: res.c, cfg: cfg, tls: t, version: res.c.GetServerVersion(),
		queryAttrs: slices.Contains(strings.Split(res.c.CapabilityString(), "|"), "CLIENT_QUERY_ATTRIBUTES")}
	r.mariadb = strings.Contains(strings.ToLower(r.version), "mariadb")
	return r, nil
}

// dialTimedOut is the error of a dial cut short by its context: the
// caller's cancellation as is, or else errConnectTimeout (retried), since
// DialTimeout ran out on a server that did not answer in time.
func dialTimedOut(ctx context.Context, cfg *Config) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mysql: connect to %s: %w", cfg.Addr, err)
	}
	return fmt.Errorf("mysql: connect to %s: %w (dial-timeout %v)", cfg.Addr, errConnectTimeout, cfg.DialTimeout)
}

// cleanConnErr drops go-mysql's stack annotations but keeps the cause
// chain (net errors, io.EOF) for errors.Is/As.
func cleanConnErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return err
}

// security is what the connection has of TLS.
func (r *replica) security() source.Security {
	s := source.ConnSecurity(r.c.Conn.Conn, r.tls)
	if !s.Local && s.Verified == "" {
		s.Hint = "tls=on and tls-ca=FILE (the CA that signed the server's certificate) to encrypt and verify"
	}
	return s
}

// Close closes the connection; it unblocks a pending read.
func (r *replica) Close() error { return r.c.Close() }

// watch closes the connection when ctx ends; call the returned function to stop watching.
func (r *replica) watch(ctx context.Context) (stop func() bool) {
	// Close the socket, not the go-mysql connection: its Close resets
	// state the reading goroutine is using.
	nc := r.c.Conn.Conn
	return context.AfterFunc(ctx, func() { nc.Close() })
}

// flavor names the server kind for change.Change.Source.
func (r *replica) flavor() string {
	if r.mariadb {
		return "mariadb"
	}
	return "mysql"
}

// exec runs a statement and wraps its error with the statement.
func (r *replica) exec(query string) (*gmysql.Result, error) {
	res, err := r.c.Execute(query)
	if err != nil {
		if se := serverError(err); se != nil {
			return nil, fmt.Errorf("mysql: %s: %w", query, se)
		}
		return nil, fmt.Errorf("mysql: %s: %w", query, cleanConnErr(err))
	}
	return res, nil
}

// queryRows runs a query and returns its rows as strings (NULL as "").
func (r *replica) queryRows(query string) ([][]string, error) {
	res, err := r.exec(query)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	if res.Resultset == nil {
		return nil, nil
	}
	out := make([][]string, res.RowNumber())
	for i := range out {
		row := make([]string, res.ColumnNumber())
		for j := range row {
			s, err := res.GetString(i, j)
			if err != nil {
				return nil, fmt.Errorf("mysql: %s: row %d column %d: %w", query, i, j, err)
			}
			// go-mysql's strings alias its read buffer: copy them.
			row[j] = strings.Clone(s)
		}
		out[i] = row
	}
	return out, nil
}

// variable returns a global system variable, "" when the server lacks it.
func (r *replica) variable(name string) (string, error) {
	rows, err := r.queryRows("SHOW GLOBAL VARIABLES LIKE '" + name + "'")
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0][1], nil
}

// prepare sets the session variables a binlog dump needs: checksum
// awareness, the heartbeat period, and for MariaDB the GTID capability.
func (r *replica) prepare() error {
	// Tell the server we understand checksums; it then sends events as
	// written, with the CRC32 trailer the FDE announces.
	if _, err := r.exec("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum"); err != nil {
		return err
	}
	ns := strconv.FormatInt(r.cfg.Heartbeat.Nanoseconds(), 10)
	if _, err := r.exec("SET @master_heartbeat_period = " + ns + ", @source_heartbeat_period = " + ns); err != nil {
		return err
	}
	if r.mariadb {
		if _, err := r.exec("SET @mariadb_slave_capability = " + strconv.Itoa(mariaSlaveCapabilityGTID)); err != nil {
			return err
		}
	}
	return nil
}

// command sends one command packet with a fresh sequence.
func (r *replica) command(payload []byte) error {
	r.c.ResetSequence()
	pkt := make([]byte, 4, 4+len(payload))
	pkt = append(pkt, payload...)
	if err := r.c.WritePacket(pkt); err != nil {
		return cleanConnErr(err)
	}
	return nil
}

// register sends COM_REGISTER_SLAVE with the configured server id.
func (r *replica) register() error {
	host, _ := os.Hostname()
	if len(host) > 60 {
		host = host[:60]
	}
	p := []byte{comRegisterSlave}
	p = binary.LittleEndian.AppendUint32(p, r.cfg.ServerID)
	p = append(p, byte(len(host)))
	p = append(p, host...)
	p = append(p, 0) // user
	p = append(p, 0) // password
	p = binary.LittleEndian.AppendUint16(p, 0)
	p = binary.LittleEndian.AppendUint32(p, 0) // replication rank
	p = binary.LittleEndian.AppendUint32(p, 0) // master id
	if err := r.command(p); err != nil {
		return fmt.Errorf("mysql: COM_REGISTER_SLAVE: %w", err)
	}
	if err := r.readOK(); err != nil {
		return fmt.Errorf("mysql: COM_REGISTER_SLAVE (server id %d): %w", r.cfg.ServerID, err)
	}
	return nil
}

// readOK reads an OK or error packet.
func (r *replica) readOK() error {
	data, err := r.c.ReadPacket()
	if err != nil {
		return cleanConnErr(err)
	}
	switch {
	case len(data) > 0 && data[0] == gmysql.OK_HEADER:
		return nil
	case len(data) > 0 && data[0] == gmysql.ERR_HEADER:
		return parseErrPacket(data)
	}
	return fmt.Errorf("unexpected packet 0x%02x of %d bytes where OK was due", firstByte(data), len(data))
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// parseErrPacket decodes an ERR packet (CLIENT_PROTOCOL_41 layout).
func parseErrPacket(data []byte) *ServerError {
	se := &ServerError{}
	if len(data) < 3 {
		se.Message = "malformed error packet"
		return se
	}
	se.Code = binary.LittleEndian.Uint16(data[1:])
	rest := data[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		se.State = string(rest[1:6])
		rest = rest[6:]
	}
	se.Message = string(rest)
	return se
}

// dumpFile starts COM_BINLOG_DUMP at file and offset (file "" with offset 4
// makes MariaDB use @slave_connect_state).
func (r *replica) dumpFile(file string, offset uint32) error {
	p := []byte{comBinlogDump}
	p = binary.LittleEndian.AppendUint32(p, offset)
	p = binary.LittleEndian.AppendUint16(p, 0) // blocking: wait for new events
	p = binary.LittleEndian.AppendUint32(p, r.cfg.ServerID)
	p = append(p, file...)
	if err := r.command(p); err != nil {
		return fmt.Errorf("mysql: COM_BINLOG_DUMP %s:%d: %w", file, offset, err)
	}
	return nil
}

// dumpMariaGTID starts a MariaDB binlog dump after the given GTID state
// ("domain-server-seq,..."); the server starts after those GTIDs.
func (r *replica) dumpMariaGTID(state string) error {
	for _, c := range state {
		if !(c >= '0' && c <= '9' || c == '-' || c == ',') {
			return fmt.Errorf("mysql: MariaDB GTID state %q: invalid character %q", state, c)
		}
	}
	if _, err := r.exec("SET @slave_connect_state = '" + state + "'"); err != nil {
		return err
	}
	// Strict mode makes the server refuse a state it cannot serve exactly
	// instead of starting at some later GTID.
	if _, err := r.exec("SET @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0"); err != nil {
		return err
	}
	return r.dumpFile("", 4)
}

// dumpMySQLGTID starts COM_BINLOG_DUMP_GTID with the encoded GTID set
// (the server sends every transaction not in it).
func (r *replica) dumpMySQLGTID(encodedSet []byte) error {
	p := []byte{comBinlogDumpGTID}
	p = binary.LittleEndian.AppendUint16(p, binlogThroughGTID)
	p = binary.LittleEndian.AppendUint32(p, r.cfg.ServerID)
	p = binary.LittleEndian.AppendUint32(p, 0) // file name length: none
	p = binary.LittleEndian.AppendUint64(p, 4) // position
	p = binary.LittleEndian.AppendUint32(p, uint32(len(encodedSet)))
	p = append(p, encodedSet...)
	if err := r.command(p); err != nil {
		return fmt.Errorf("mysql: COM_BINLOG_DUMP_GTID: %w", err)
	}
	return nil
}

// nextEvent reads the next dump packet and returns the event bytes in it
// (header, body and checksum). The slice is valid until the next call.
// A dead connection is detected by the read timeout (3 heartbeats).
func (r *replica) nextEvent(where func() string) ([]byte, error) {
	data, err := r.c.ReadPacketReuseMem(r.buf[:0])
	if err != nil {
		return nil, cleanConnErr(err)
	}
	if cap(data) <= 1<<20 {
		r.buf = data
	}
	if len(data) == 0 {
		return nil, errors.New("mysql: empty packet in binlog stream")
	}
	switch data[0] {
	case gmysql.OK_HEADER:
		return data[1:], nil
	case gmysql.ERR_HEADER:
		return nil, classifyDumpError(parseErrPacket(data), where())
	case gmysql.EOF_HEADER:
		if len(data) < 9 {
			return nil, errStreamEnded
		}
	}
	return nil, fmt.Errorf("mysql: unexpected packet 0x%02x of %d bytes in binlog stream", data[0], len(data))
}

// BinlogFile is one row of SHOW BINARY LOGS.
type BinlogFile struct {
	Name string
	Size uint64
}

// binaryLogs lists the server's binlog files, oldest first.
func (r *replica) binaryLogs() ([]BinlogFile, error) {
	rows, err := r.queryRows("SHOW BINARY LOGS")
	if err != nil {
		return nil, err
	}
	out := make([]BinlogFile, 0, len(rows))
	for _, row := range rows {
		n, _ := strconv.ParseUint(row[1], 10, 64)
		out = append(out, BinlogFile{Name: row[0], Size: n})
	}
	return out, nil
}

// serverStatus is the current write position and executed GTID set.
type serverStatus struct {
	File    string
	Offset  uint64
	GTIDSet string // MySQL: Executed_Gtid_Set; MariaDB: @@gtid_binlog_pos
}

// status returns SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+).
func (r *replica) status() (serverStatus, error) {
	rows, err := r.queryRows("SHOW MASTER STATUS")
	if se := serverError(err); se != nil && se.Code == 1064 {
		rows, err = r.queryRows("SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return serverStatus{}, err
	}
	if len(rows) == 0 {
		return serverStatus{}, errors.New("mysql: SHOW MASTER STATUS returned nothing: is log_bin enabled?")
	}
	st := serverStatus{File: rows[0][0]}
	st.Offset, _ = strconv.ParseUint(rows[0][1], 10, 64)
	if r.mariadb {
		rows, err := r.queryRows("SELECT @@GLOBAL.gtid_binlog_pos")
		if err != nil {
			return st, err
		}
		if len(rows) > 0 {
			st.GTIDSet = rows[0][0]
		}
	} else if len(rows[0]) >= 5 {
		st.GTIDSet = strings.ReplaceAll(rows[0][4], "\n", "")
	}
	return st, nil
}
