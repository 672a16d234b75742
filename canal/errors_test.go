package canal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbp "github.com/withlin/canal-go/protocol/packet"
	"google.golang.org/protobuf/proto"
)

// rawClient speaks the protocol by hand (with canal-go's message types)
// to send what no well-behaved client sends.
type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, port int) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

func (r *rawClient) read() *pbp.Packet {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(r.nc, hdr[:]); err != nil {
		r.t.Fatalf("read: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r.nc, b); err != nil {
		r.t.Fatalf("read: %v", err)
	}
	p := &pbp.Packet{}
	if err := proto.Unmarshal(b, p); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rawClient) writeFrame(b []byte) {
	r.nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
	r.nc.Write(b)
}

func (r *rawClient) send(typ pbp.PacketType, body proto.Message) {
	r.t.Helper()
	b, err := proto.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	p, _ := proto.Marshal(&pbp.Packet{Type: typ, Body: b})
	r.writeFrame(p)
}

// login reads the handshake and authenticates as user with password.
func (r *rawClient) login(user, password string) *pbp.Ack {
	r.t.Helper()
	hs := &pbp.Handshake{}
	p := r.read()
	if p.GetType() != pbp.PacketType_HANDSHAKE || p.GetVersion() != 1 {
		r.t.Fatalf("first packet %v", p)
	}
	if err := proto.Unmarshal(p.GetBody(), hs); err != nil || len(hs.GetSeeds()) != 8 {
		r.t.Fatalf("handshake %v (%v)", hs, err)
	}
	pass := []byte(password)
	token := hex.EncodeToString(canalclient.Scramble411(&pass, &hs.Seeds))
	r.send(pbp.PacketType_CLIENTAUTHENTICATION, &pbp.ClientAuth{Username: user, Password: []byte(token)})
	ack := &pbp.Ack{}
	p = r.read()
	if p.GetType() != pbp.PacketType_ACK || proto.Unmarshal(p.GetBody(), ack) != nil {
		r.t.Fatalf("answer to authentication: %v", p)
	}
	return ack
}

// closed reports whether the server closed the connection (within 10 s):
// EOF, or a reset when the server closed with our bytes unread.
func (r *rawClient) closed() bool {
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, err := r.nc.Read(b[:])
	var ne net.Error
	return err == io.EOF || err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestAuthentication: Canal's password scramble with configured users, a
// hashed password as Canal's canal.passwd, and the error a wrong password
// gets from canal-go's Connect.
func TestAuthentication(t *testing.T) {
	ts := startTestServer(t, fixtureSource(t, 1, 1), Config{Users: []User{
		{Name: "canal", Password: "s3cret"}, {Name: "hashed", Password: PasswordHash("other")}}})
	connect := func(user, pass string) error {
		c := canalclient.NewSimpleCanalConnector("127.0.0.1", ts.port, user, pass, "example", 60000, 60*60*1000)
		err := c.Connect()
		if err == nil {
			c.DisConnection()
		}
		return err
	}
	if err := connect("canal", "s3cret"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := connect("hashed", "other"); err != nil {
		t.Errorf("right password of a hashed user: %v", err)
	}
	for _, c := range [][2]string{{"canal", "wrong"}, {"canal", ""}, {"nobody", "s3cret"}, {"", ""}} {
		err := connect(c[0], c[1])
		if err == nil || !strings.Contains(err.Error(), "auth failed for user:"+c[0]) {
			t.Errorf("user %q password %q: %v, want Canal's auth failure", c[0], c[1], err)
		}
	}
	// The server closes the connection after the error packet.
	r := dialRaw(t, ts.port)
	if ack := r.login("canal", "wrong"); ack.GetErrorCode() != 400 {
		t.Errorf("error ack %v", ack)
	}
	if !r.closed() {
		t.Error("connection still open after a failed authentication")
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "authentication failed") || strings.Contains(logs, "s3cret") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestNoUsersLoopbackOnly: without users, an empty user name is accepted
// from loopback only.
func TestNoUsersLoopbackOnly(t *testing.T) {
	s, err := NewServer(Config{Store: nil, Destinations: []Destination{{Name: "x", URL: "mysql://u@h/"}}})
	if err == nil {
		t.Fatal("a server without a store")
	}
	ts := startTestServer(t, fixtureSource(t, 0, 0), Config{})
	s = ts.srv
	for _, c := range []struct {
		user string
		addr string
		ok   bool
	}{
		{"", "127.0.0.1:5000", true}, {"", "[::1]:5000", true}, {"", "10.1.2.3:5000", false},
		{"root", "127.0.0.1:5000", false},
	} {
		a, _ := net.ResolveTCPAddr("tcp", c.addr)
		if why := s.authenticate(c.user, nil, []byte("12345678"), a); (why == "") != c.ok {
			t.Errorf("user %q from %s: %q", c.user, c.addr, why)
		}
	}
}

// TestBadClients: a garbage packet, an oversized length prefix, a packet
// type the server does not serve and a client that vanishes in the middle
// of a batch are each logged and cost only their own connection: a
// canal-go client on the same server is served all along, and the
// vanished client's batch is delivered again.
func TestBadClients(t *testing.T) {
	ts := startTestServer(t, fixtureSource(t, 40, 5), Config{})
	good := ts.connect(t, 1001, "")
	keys, _ := drain(t, good, 10, 10, true)

	garbage := dialRaw(t, ts.port)
	garbage.login("", "")
	garbage.writeFrame([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	if !garbage.closed() {
		t.Error("garbage packet: connection still open")
	}

	huge := dialRaw(t, ts.port)
	huge.login("", "")
	huge.nc.Write([]byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3})
	if !huge.closed() {
		t.Error("oversized length prefix: connection still open")
	}

	unknown := dialRaw(t, ts.port)
	unknown.login("", "")
	unknown.send(pbp.PacketType_DUMP, &pbp.Dump{Journal: "x"})
	p := unknown.read()
	ack := &pbp.Ack{}
	proto.Unmarshal(p.GetBody(), ack)
	if p.GetType() != pbp.PacketType_ACK || ack.GetErrorCode() != 400 || !strings.Contains(ack.GetErrorMessage(), "DUMP is NOT supported") {
		t.Errorf("DUMP: %v %v", p, ack)
	}
	if !unknown.closed() {
		t.Error("unsupported packet: connection still open")
	}

	// A client of its own id takes a batch and vanishes.
	vanish := dialRaw(t, ts.port)
	vanish.login("", "")
	vanish.send(pbp.PacketType_SUBSCRIPTION, &pbp.Sub{Destination: "example", ClientId: "1002"})
	vanish.read()
	vanish.send(pbp.PacketType_GET, &pbp.Get{Destination: "example", ClientId: "1002", FetchSize: 20,
		TimeoutPresent: &pbp.Get_Timeout{Timeout: 2000}, UnitPresent: &pbp.Get_Unit{Unit: 2}})
	vanished := "client=" + vanish.nc.LocalAddr().String()
	vanish.nc.Close()

	more, _ := drain(t, good, 40, 10, true)
	keys = append(keys, more...)
	if len(keys) < 50 || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("the good client got %d changes", len(keys))
	}
	// The vanished client's id starts again at its first entry.
	again := ts.connect(t, 1002, "")
	first, _ := drain(t, again, 5, 5, true)
	if first[0] != keys[0] {
		t.Errorf("client 1002 resumed at %s, want %s", first[0], keys[0])
	}
	// The server logs the vanished client once it answers its GET.
	logged := func() bool {
		for _, l := range strings.Split(ts.logs.String(), "\n") {
			if strings.Contains(l, vanished) && (strings.Contains(l, "client disconnected") || strings.Contains(l, "closing the connection")) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	logs := ts.logs.String()
	if !logged() {
		t.Errorf("the vanished client's end is not in the log:\n%s", logs)
	}
	for _, want := range []string{"malformed packet", "oversized packet", "DUMP is NOT supported"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the log:\n%s", want, logs)
		}
	}
}

// TestOutOfOrderAck: acking a batch that is not the oldest gets Canal's
// error and the connection closes; the batches are delivered again on the
// next connection.
func TestOutOfOrderAck(t *testing.T) {
	ts := startTestServer(t, fixtureSource(t, 3, 3), Config{})
	r := dialRaw(t, ts.port)
	r.login("", "")
	r.send(pbp.PacketType_SUBSCRIPTION, &pbp.Sub{Destination: "example", ClientId: "1001"})
	r.read()
	var ids []int64
	for range 2 {
		r.send(pbp.PacketType_GET, &pbp.Get{Destination: "example", ClientId: "1001", FetchSize: 3,
			TimeoutPresent: &pbp.Get_Timeout{Timeout: 2000}, UnitPresent: &pbp.Get_Unit{Unit: 2}})
		m := &pbp.Messages{}
		proto.Unmarshal(r.read().GetBody(), m)
		ids = append(ids, m.GetBatchId())
	}
	r.send(pbp.PacketType_CLIENTACK, &pbp.ClientAck{Destination: "example", ClientId: "1001", BatchId: ids[1]})
	p := r.read()
	ack := &pbp.Ack{}
	proto.Unmarshal(p.GetBody(), ack)
	if ack.GetErrorCode() != 400 || !strings.Contains(ack.GetErrorMessage(), "is not the firstly") {
		t.Errorf("out-of-order ack: %v", ack)
	}
	if !r.closed() {
		t.Error("connection still open")
	}
	c := ts.connect(t, 1001, "")
	keys, _ := drain(t, c, 15, 100, true)
	if len(keys) != 15 {
		t.Errorf("%d changes after reconnecting", len(keys))
	}
}

// TestTLS: with Config.TLS the server speaks TLS; the Canal handshake
// follows the TLS one.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ts := startTestServer(t, fixtureSource(t, 1, 1), Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	pool := x509.NewCertPool()
	parsed, _ := x509.ParseCertificate(der)
	pool.AddCert(parsed)
	nc, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ts.port), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := &rawClient{t: t, nc: nc}
	if ack := r.login("", ""); ack.GetErrorCode() != 0 {
		t.Fatalf("login over TLS: %v", ack)
	}
	r.send(pbp.PacketType_SUBSCRIPTION, &pbp.Sub{Destination: "example", ClientId: "1001"})
	if p := r.read(); p.GetType() != pbp.PacketType_ACK {
		t.Fatalf("subscription over TLS: %v", p)
	}
	// A plain client gets no Canal handshake.
	plain := dialRaw(t, ts.port)
	plain.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [4]byte
	if _, err := io.ReadFull(plain.nc, b[:]); err == nil && binary.BigEndian.Uint32(b[:]) < 100 {
		t.Errorf("a plain-TCP client got a Canal frame from a TLS server")
	}
}
