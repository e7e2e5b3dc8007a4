package tlscheck

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Go's TLS client cannot offer SSLv3, so the probe writes an SSLv3
// ClientHello by hand and reads the first record of the answer: a
// ServerHello at version 3.0 means the server speaks SSLv3; an alert, a
// higher version, a closed connection or silence means it does not. No
// handshake is completed (the ServerHello is all that is needed).

// sslv3Suites are the suites the hand-made ClientHello offers: the ones
// SSLv3 servers commonly accept, and the renegotiation SCSV.
var sslv3Suites = []uint16{
	0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
	0x002F, // TLS_RSA_WITH_AES_128_CBC_SHA
	0x0039, // TLS_DHE_RSA_WITH_AES_256_CBC_SHA
	0x0033, // TLS_DHE_RSA_WITH_AES_128_CBC_SHA
	0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
	0x0016, // TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
	0x0005, // TLS_RSA_WITH_RC4_128_SHA
	0x0004, // TLS_RSA_WITH_RC4_128_MD5
	0x0009, // TLS_RSA_WITH_DES_CBC_SHA
	0x00FF, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
}

const (
	recordHandshake  = 0x16
	recordAlert      = 0x15
	msgClientHello   = 0x01
	msgServerHello   = 0x02
	versionSSL30     = 0x0300
	maxRecordPayload = 1 << 14
)

// sslv3ClientHello is one record holding an SSLv3 ClientHello.
func sslv3ClientHello() ([]byte, error) {
	body := make([]byte, 0, 64)
	body = binary.BigEndian.AppendUint16(body, versionSSL30)
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	body = append(body, random...)
	body = append(body, 0) // no session id
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(sslv3Suites)))
	for _, s := range sslv3Suites {
		body = binary.BigEndian.AppendUint16(body, s)
	}
	body = append(body, 1, 0) // compression: null only
	msg := append([]byte{msgClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	rec := []byte{recordHandshake, 0x03, 0x00, byte(len(msg) >> 8), byte(len(msg))}
	return append(rec, msg...), nil
}

// offersSSLv3 sends the ClientHello to addr and says whether the server
// answered with an SSLv3 ServerHello. An error is a connection that could
// not be made (the caller treats the rest as "not offered").
func offersSSLv3(ctx context.Context, addr string, timeout time.Duration) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	hello, err := sslv3ClientHello()
	if err != nil {
		return false, "", err
	}
	if _, err := conn.Write(hello); err != nil {
		return false, "the server closed the connection on an SSLv3 ClientHello", nil
	}
	offered, why := readServerHello(conn)
	return offered, why, nil
}

// readServerHello reads the first record of a server's answer.
func readServerHello(r io.Reader) (bool, string) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false, "no answer to an SSLv3 ClientHello"
		}
		return false, "the server closed the connection on an SSLv3 ClientHello"
	}
	n := int(binary.BigEndian.Uint16(hdr[3:5]))
	switch {
	case hdr[0] == recordAlert:
		return false, "the server refused SSLv3 with an alert"
	case hdr[0] != recordHandshake || n < 6 || n > maxRecordPayload:
		return false, fmt.Sprintf("the server answered an SSLv3 ClientHello with something else (record type %d)", hdr[0])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return false, "the server's answer to an SSLv3 ClientHello was cut short"
	}
	if payload[0] != msgServerHello {
		return false, fmt.Sprintf("the server answered an SSLv3 ClientHello with handshake message %d", payload[0])
	}
	v := binary.BigEndian.Uint16(payload[4:6])
	if v == versionSSL30 {
		return true, "the server accepted SSLv3 (ServerHello version 3.0)"
	}
	return false, fmt.Sprintf("the server answered with version %#04x, not SSLv3", v)
}
