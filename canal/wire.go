package canal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is the wire format of proto/canal_protocol.proto: the 4-byte
// framing and the packets' protobuf messages, encoded append-style and
// decoded by hand with protowire. No sockets here.

// packetType is CanalProtocol.proto's PacketType.
type packetType int32

// The packet types.
const (
	pktHandshake      packetType = 1
	pktClientAuth     packetType = 2
	pktAck            packetType = 3
	pktSubscription   packetType = 4
	pktUnsubscription packetType = 5
	pktGet            packetType = 6
	pktMessages       packetType = 7
	pktClientAck      packetType = 8
	pktShutdown       packetType = 9
	pktDump           packetType = 10
	pktHeartbeat      packetType = 11
	pktClientRollback packetType = 12
)

var packetTypeNames = [...]string{"PACKAGETYPECOMPATIBLEPROTO2", "HANDSHAKE", "CLIENTAUTHENTICATION", "ACK",
	"SUBSCRIPTION", "UNSUBSCRIPTION", "GET", "MESSAGES", "CLIENTACK", "SHUTDOWN", "DUMP", "HEARTBEAT", "CLIENTROLLBACK"}

func (t packetType) String() string {
	if t >= 0 && int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return fmt.Sprintf("PacketType(%d)", int32(t))
}

// protocolVersion is Packet.version on every packet the server sends.
const protocolVersion = 1

// compressionNone is Compression.NONE.
const compressionNone = 1

// Field numbers of CanalProtocol.proto's messages.
const (
	fPacketMagic       = 1
	fPacketVersion     = 2
	fPacketType        = 3
	fPacketCompression = 4
	fPacketBody        = 5

	fHandshakeEncoding     = 1
	fHandshakeSeeds        = 2
	fHandshakeCompressions = 3

	fAuthUsername     = 1
	fAuthPassword     = 2
	fAuthReadTimeout  = 3
	fAuthWriteTimeout = 4
	fAuthDestination  = 5
	fAuthClientID     = 6
	fAuthFilter       = 7
	fAuthStartTime    = 8

	fAckErrorCode    = 1
	fAckErrorMessage = 2

	// ClientAck and ClientRollback.
	fClientAckDestination = 1
	fClientAckClientID    = 2
	fClientAckBatchID     = 3

	// Sub and Unsub.
	fSubDestination = 1
	fSubClientID    = 2
	fSubFilter      = 7

	fGetDestination = 1
	fGetClientID    = 2
	fGetFetchSize   = 3
	fGetTimeout     = 4
	fGetUnit        = 5
	fGetAutoAck     = 6

	fMessagesBatchID  = 1
	fMessagesMessages = 2
)

// maxClientPacket bounds the packets a client may send: they are small
// requests (the largest, a SUBSCRIPTION, carries a filter). A longer length
// prefix is refused before anything is read or allocated.
const maxClientPacket = 1 << 20

// errPacketTooLong is a length prefix over maxClientPacket.
var errPacketTooLong = errors.New("packet length prefix over the limit")

// readFrame reads one length-prefixed packet into buf (grown as needed)
// and returns it. A prefix over limit fails with errPacketTooLong.
func readFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errPacketTooLong, n, limit)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// packet is a decoded Packet.
type packet struct {
	typ     packetType
	version int32
	body    []byte // aliases the decoded buffer
}

// decodePacket decodes a Packet; body aliases b.
func decodePacket(b []byte) (packet, error) {
	var p packet
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch num {
		case fPacketVersion:
			p.version = int32(v)
		case fPacketType:
			p.typ = packetType(v)
		case fPacketBody:
			p.body = data
		}
		return nil
	}, map[protowire.Number]protowire.Type{fPacketMagic: protowire.VarintType, fPacketVersion: protowire.VarintType,
		fPacketType: protowire.VarintType, fPacketCompression: protowire.VarintType, fPacketBody: protowire.BytesType})
	if err != nil {
		return packet{}, fmt.Errorf("Packet: %w", err)
	}
	return p, nil
}

// eachField calls fn for every field of message b: v holds a varint or
// fixed value, data a length-delimited one. Fields whose number is in
// want must have the wire type it gives; others are skipped.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error, want map[protowire.Number]protowire.Type) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var data []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if wt, ok := want[num]; ok {
			if wt != typ {
				return fmt.Errorf("field %d: wire type %d, want %d", num, typ, wt)
			}
			if err := fn(num, typ, v, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendPacketHeader appends the framing of a packet of type typ whose
// body is bodyLen bytes long, up to the body itself: the 4-byte length,
// then the Packet fields version, type and the body's tag and length.
func appendPacketHeader(dst []byte, typ packetType, bodyLen int) []byte {
	n := packetHeaderLen(typ, bodyLen) + bodyLen
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = protowire.AppendTag(dst, fPacketVersion, protowire.VarintType)
	dst = protowire.AppendVarint(dst, protocolVersion)
	dst = protowire.AppendTag(dst, fPacketType, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(typ))
	dst = protowire.AppendTag(dst, fPacketBody, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(bodyLen))
}

// packetHeaderLen is the length of the Packet fields before the body's bytes.
func packetHeaderLen(typ packetType, bodyLen int) int {
	return 2 + 1 + protowire.SizeVarint(uint64(typ)) + 1 + protowire.SizeVarint(uint64(bodyLen))
}

// appendPacket appends a whole framed packet.
func appendPacket(dst []byte, typ packetType, body []byte) []byte {
	return append(appendPacketHeader(dst, typ, len(body)), body...)
}

// appendHandshake appends a Handshake body.
func appendHandshake(dst, seeds []byte) []byte {
	dst = protowire.AppendTag(dst, fHandshakeSeeds, protowire.BytesType)
	dst = protowire.AppendBytes(dst, seeds)
	dst = protowire.AppendTag(dst, fHandshakeCompressions, protowire.VarintType)
	return protowire.AppendVarint(dst, compressionNone)
}

// appendAck appends an Ack body: code 0 is success (Canal sends an empty
// Ack then), anything else an error with msg.
func appendAck(dst []byte, code int32, msg string) []byte {
	if code == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, fAckErrorCode, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(int64(code)))
	dst = protowire.AppendTag(dst, fAckErrorMessage, protowire.BytesType)
	return protowire.AppendString(dst, msg)
}

// clientAuth is a decoded ClientAuth.
type clientAuth struct {
	username                  string
	password                  []byte
	readTimeout, writeTimeout int32 // milliseconds, 0 when absent
	destination, clientID     string
	filter                    string
}

func decodeClientAuth(b []byte) (clientAuth, error) {
	var a clientAuth
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
		switch num {
		case fAuthUsername:
			a.username = string(data)
		case fAuthPassword:
			a.password = append([]byte(nil), data...)
		case fAuthReadTimeout:
			a.readTimeout = int32(v)
		case fAuthWriteTimeout:
			a.writeTimeout = int32(v)
		case fAuthDestination:
			a.destination = string(data)
		case fAuthClientID:
			a.clientID = string(data)
		case fAuthFilter:
			a.filter = string(data)
		}
		return nil
	}, map[protowire.Number]protowire.Type{fAuthUsername: protowire.BytesType, fAuthPassword: protowire.BytesType,
		fAuthReadTimeout: protowire.VarintType, fAuthWriteTimeout: protowire.VarintType, fAuthDestination: protowire.BytesType,
		fAuthClientID: protowire.BytesType, fAuthFilter: protowire.BytesType, fAuthStartTime: protowire.VarintType})
	if err != nil {
		return clientAuth{}, fmt.Errorf("ClientAuth: %w", err)
	}
	return a, nil
}

// sub is a decoded Sub or Unsub.
type sub struct {
	destination, clientID, filter string
}

func decodeSub(b []byte) (sub, error) {
	var s sub
	err := eachField(b, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
		switch num {
		case fSubDestination:
			s.destination = string(data)
		case fSubClientID:
			s.clientID = string(data)
		case fSubFilter:
			s.filter = string(data)
		}
		return nil
	}, map[protowire.Number]protowire.Type{fSubDestination: protowire.BytesType, fSubClientID: protowire.BytesType, fSubFilter: protowire.BytesType})
	if err != nil {
		return sub{}, fmt.Errorf("Sub: %w", err)
	}
	return s, nil
}

// get is a decoded Get.
type get struct {
	destination, clientID string
	fetchSize             int32
	timeout               int64 // -1 when absent
	unit                  int32 // 2 (ms) when absent
	autoAck               bool
}

func decodeGet(b []byte) (get, error) {
	g := get{timeout: -1, unit: 2}
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
		switch num {
		case fGetDestination:
			g.destination = string(data)
		case fGetClientID:
			g.clientID = string(data)
		case fGetFetchSize:
			g.fetchSize = int32(v)
		case fGetTimeout:
			g.timeout = int64(v)
		case fGetUnit:
			g.unit = int32(v)
		case fGetAutoAck:
			g.autoAck = v != 0
		}
		return nil
	}, map[protowire.Number]protowire.Type{fGetDestination: protowire.BytesType, fGetClientID: protowire.BytesType,
		fGetFetchSize: protowire.VarintType, fGetTimeout: protowire.VarintType, fGetUnit: protowire.VarintType, fGetAutoAck: protowire.VarintType})
	if err != nil {
		return get{}, fmt.Errorf("Get: %w", err)
	}
	return g, nil
}

// batchRef is a decoded ClientAck or ClientRollback.
type batchRef struct {
	destination, clientID string
	batchID               int64
}

func decodeBatchRef(b []byte) (batchRef, error) {
	var r batchRef
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
		switch num {
		case fClientAckDestination:
			r.destination = string(data)
		case fClientAckClientID:
			r.clientID = string(data)
		case fClientAckBatchID:
			r.batchID = int64(v)
		}
		return nil
	}, map[protowire.Number]protowire.Type{fClientAckDestination: protowire.BytesType, fClientAckClientID: protowire.BytesType,
		fClientAckBatchID: protowire.VarintType})
	if err != nil {
		return batchRef{}, fmt.Errorf("ClientAck: %w", err)
	}
	return r, nil
}

// lenMark is where appendLenBegin reserved room for a length varint.
type lenMark struct {
	at, reserved int
}

// appendLenBegin reserves reserved bytes for the varint length of a
// length-delimited value that the caller appends next; appendLenEnd
// writes it, moving the value when the length needs another size.
func appendLenBegin(dst []byte, reserved int) ([]byte, lenMark) {
	m := lenMark{at: len(dst), reserved: reserved}
	for range reserved {
		dst = append(dst, 0)
	}
	return dst, m
}

// appendLenEnd writes the length of what was appended since m.
func appendLenEnd(dst []byte, m lenMark) []byte {
	start := m.at + m.reserved
	n := len(dst) - start
	size := protowire.SizeVarint(uint64(n))
	if d := size - m.reserved; d > 0 {
		for range d {
			dst = append(dst, 0)
		}
		copy(dst[start+d:], dst[start:start+n])
	} else if d < 0 {
		copy(dst[start+d:], dst[start:start+n])
		dst = dst[:len(dst)+d]
	}
	protowire.AppendVarint(dst[m.at:m.at], uint64(n))
	return dst
}
