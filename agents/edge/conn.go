package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listener hands the http.Server connections whose inbound bytes a framer
// follows. On the HTTPS port it wraps each in TLS first, so the framer sees
// plaintext; the handshake itself runs later, on the connection's goroutine
// (see tlsConn), never in Accept.
type listener struct {
	net.Listener
	tls              *tls.Config // nil on the HTTP port
	handshakeTimeout time.Duration
	maxLine          int
	log              *slog.Logger
}

func (l *listener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: raw, framer: newFramer(l.maxLine)}
	c.badFrom.Store(math.MaxInt64)
	if l.tls == nil {
		return c, nil
	}
	tc := tls.Server(raw, l.tls)
	c.Conn = tc
	return &tlsConn{conn: c, tls: tc, raw: raw, timeout: l.handshakeTimeout, log: l.log}, nil
}

// conn is a client connection whose HTTP/1 framing is followed (see framer).
// net/http reads it from one goroutine at a time; the handler asks admit for
// each request.
type conn struct {
	net.Conn
	framer *framer // used by Read only

	stopped atomic.Bool  // the connection left HTTP/1 (an accepted upgrade)
	badFrom atomic.Int64 // framer.badFrom, published to handlers
	served  atomic.Int64 // HTTP/1 requests handed to the handler so far
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.stopped.Load() {
		c.framer.feed(p[:n])
		if bad := c.framer.badFrom; bad < c.badFrom.Load() {
			c.badFrom.Store(bad)
		}
	}
	return n, err
}

// admit counts an HTTP/1 request about to be handled and reports whether its
// head was well framed. Requests reach the handler in the order of their
// heads on the connection, and net/http hands every head it parses to the
// handler or closes the connection, so the count names the head.
func (c *conn) admit() bool {
	i := c.served.Add(1) - 1
	return i < c.badFrom.Load()
}

// stopFraming is called once a request switched protocols (101): what
// follows is not HTTP/1 and is never parsed as requests again.
func (c *conn) stopFraming() { c.stopped.Store(true) }

// framing gives the handler the conn behind either connection type.
func (c *conn) framing() *conn { return c }

type framedConn interface{ framing() *conn }

// tlsConn is a conn on the HTTPS port. Because it is not a *tls.Conn,
// net/http treats it as a plain connection: it reads HTTP/1 from it through
// the framer, and serves HTTP/2 on it as "unencrypted" HTTP/2 when the
// client starts with the HTTP/2 preface (Protocols.UnencryptedHTTP2), which
// it does after negotiating "h2" by ALPN. The encryption is ours, below
// net/http. So that net/http does not take it for TLS state of its own,
// tlsConn has no ConnectionState method, and Request.TLS is nil on both
// ports; the edge knows the scheme by the port.
type tlsConn struct {
	*conn
	tls     *tls.Conn
	raw     net.Conn
	timeout time.Duration
	log     *slog.Logger

	once  sync.Once
	hsErr error // set by once
}

// Read completes the handshake first. net/http reads first thing on the
// connection's goroutine, after setting the ReadHeaderTimeout deadline, so
// the handshake never runs in Accept. A failed handshake reads as the end of
// the stream, so that net/http hangs up quietly instead of writing an error
// into a broken TLS session.
func (c *tlsConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, io.EOF
	}
	return c.conn.Read(p)
}

// handshake runs the TLS handshake once, bounded by c.timeout in both
// directions. The read deadline it leaves is about the one net/http set just
// before (both are ReadHeaderTimeout from now); the write deadline is
// cleared.
func (c *tlsConn) handshake() error {
	c.once.Do(func() {
		_ = c.raw.SetDeadline(time.Now().Add(c.timeout))
		if err := c.tls.HandshakeContext(context.Background()); err != nil {
			c.hsErr = err
			c.handshakeFailed(err)
			return
		}
		_ = c.raw.SetWriteDeadline(time.Time{})
	})
	return c.hsErr
}

func (c *tlsConn) handshakeFailed(err error) {
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader) {
		// As net/http does for its own TLS listeners: a plain-HTTP client on
		// the HTTPS port gets a readable answer.
		_, _ = io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
	// Scanners and broken clients make this common; it is not the edge's
	// problem, so it is not worth more than a debug line.
	c.log.Debug("tls handshake failed", "remote", c.raw.RemoteAddr().String(), "err", err)
	_ = c.raw.Close()
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
