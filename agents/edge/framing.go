package edge

import (
	"bytes"
	"math"
	"net/http"
	"strconv"
)

// framer follows HTTP/1.x message framing on the bytes a client sends, in
// step with net/http's own parser, to see what that parser hides from a
// handler: when a request carries both Transfer-Encoding and Content-Length,
// net/http deletes Content-Length before the handler runs, and on HTTP/1.0 it
// deletes Transfer-Encoding. Either is a request smuggling attempt (RFC 9112,
// sections 6.1 and 6.3), and so is a header folded onto several lines
// (obs-fold), which net/http joins silently. The framer marks such a request
// head "bad"; the handler refuses it and closes the connection.
//
// It is not a second HTTP parser. It only needs to find each request head
// where net/http finds it: it reads the head line by line, skips the body by
// the same rules (chunked for one "chunked" Transfer-Encoding on HTTP/1.1, else
// Content-Length, else none) and stops following the connection (stateOff)
// wherever net/http itself refuses the message and hangs up: a malformed
// request line, an unsupported transfer coding, an invalid Content-Length, a
// malformed chunk, a line longer than net/http accepts. It fails closed:
// once it has stopped, every later request head on the connection counts as
// bad, so a disagreement with net/http can refuse a request but never let
// one through unchecked. FuzzFramer checks the agreement against net/http.
//
// A framer is used by one reader at a time; it is not safe for concurrent use.
type framer struct {
	state   framerState
	remain  uint64 // bytes left to skip in stateBody and stateChunkData
	line    []byte // the unfinished line carried over from the previous feed
	maxLine int    // longer lines are refused (net/http refuses them earlier)

	heads   int64 // request heads completed so far
	badFrom int64 // index of the first bad head; math.MaxInt64 while there is none
	skipEOL int   // leading CR and LF bytes net/http skips before the next head

	head headInfo // the head being read
}

type framerState uint8

const (
	stateHead      framerState = iota // reading a request line or header lines
	stateBody                         // skipping a Content-Length body
	stateChunkLine                    // reading a chunk-size line
	stateChunkData                    // skipping chunk data and its CRLF
	stateTrailer                      // reading trailer lines up to a blank one
	stateOff                          // not following: HTTP/2, or a message net/http refuses
)

// headInfo is what the framer learns from one request head.
type headInfo struct {
	lines      int    // lines read so far, the request line included
	post       bool   // the method is POST
	http11     bool   // HTTP/1.1: Transfer-Encoding applies
	te         int    // Transfer-Encoding fields
	teChunked  bool   // the one Transfer-Encoding is "chunked"
	cl         int    // Content-Length fields
	clValue    string // the first Content-Length value
	clMismatch bool   // Content-Length fields with different values
	folded     bool   // a header line continues the previous one (obs-fold)
}

func newFramer(maxLine int) *framer {
	return &framer{maxLine: maxLine, badFrom: math.MaxInt64}
}

// feed follows p, the next bytes read from the connection.
func (f *framer) feed(p []byte) {
	for len(p) > 0 {
		switch f.state {
		case stateOff:
			return
		case stateBody, stateChunkData:
			n := uint64(len(p))
			if n > f.remain {
				n = f.remain
			}
			p = p[n:]
			f.remain -= n
			if f.remain == 0 {
				if f.state == stateBody {
					f.state = stateHead
				} else {
					f.state = stateChunkLine
				}
			}
		default:
			if f.skipEOL > 0 && f.state == stateHead {
				if p[0] == '\r' || p[0] == '\n' {
					p = p[1:]
					f.skipEOL--
					continue
				}
				f.skipEOL = 0
			}
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				if len(f.line)+len(p) > f.maxLine {
					f.off()
					return
				}
				f.line = append(f.line, p...)
				return
			}
			line := p[:i]
			p = p[i+1:]
			if len(f.line)+len(line) > f.maxLine {
				f.off()
				return
			}
			if len(f.line) > 0 {
				f.line = append(f.line, line...)
				line = f.line
			}
			// A bare LF ends a line as well as CRLF does: net/http's
			// textproto reader accepts both in heads and trailers. Chunk-size
			// lines must end in CRLF, which net/http checks itself.
			line = bytes.TrimSuffix(line, []byte{'\r'})
			f.onLine(line)
			if cap(f.line) > 4<<10 {
				f.line = nil // don't keep a huge buffer for the life of the connection
			} else {
				f.line = f.line[:0]
			}
		}
	}
}

// onLine handles one complete line (without its line ending) in one of the
// line-oriented states. The line is only valid during the call.
func (f *framer) onLine(line []byte) {
	switch f.state {
	case stateHead:
		if f.head.lines == 0 {
			f.requestLine(line)
			return
		}
		if len(line) == 0 {
			f.endHead()
			return
		}
		f.headerLine(line)
	case stateChunkLine:
		size, _, _ := bytes.Cut(line, []byte{';'})
		n, ok := parseHex(bytes.TrimRight(size, " \t"))
		switch {
		case !ok:
			f.off() // net/http fails the body and closes
		case n == 0:
			f.state = stateTrailer
		default:
			f.remain = n + 2 // the data and its CRLF
			f.state = stateChunkData
		}
	case stateTrailer:
		if len(line) == 0 {
			f.state = stateHead
		}
	}
}

func (f *framer) requestLine(line []byte) {
	// net/http's parseRequestLine: method SP request-target SP version.
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	_, proto, ok2 := bytes.Cut(rest, []byte{' '})
	major, minor, ok := parseVersion(proto)
	if !ok1 || !ok2 || !ok || major != 1 {
		// Either net/http answers 400/505 and closes, or this is the
		// HTTP/2 connection preface ("PRI * HTTP/2.0") and the rest of the
		// connection is HTTP/2 frames, whose requests are not HTTP/1's to
		// admit.
		f.off()
		return
	}
	f.head = headInfo{lines: 1, http11: minor >= 1, post: string(method) == "POST"}
}

func (f *framer) headerLine(line []byte) {
	h := &f.head
	h.lines++
	if line[0] == ' ' || line[0] == '\t' {
		h.folded = true
		return
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return // net/http refuses the head
	}
	value = bytes.Trim(value, " \t")
	switch {
	case asciiEqualFold(name, "Transfer-Encoding"):
		h.te++
		h.teChunked = h.te == 1 && asciiEqualFold(value, "chunked")
	case asciiEqualFold(name, "Content-Length"):
		if h.cl == 0 {
			h.clValue = string(value)
		} else if string(value) != h.clValue {
			h.clMismatch = true
		}
		h.cl++
	}
}

// endHead decides on the finished head and how its body is framed.
func (f *framer) endHead() {
	h := f.head
	f.head = headInfo{}
	index := f.heads
	f.heads++
	if h.post {
		// "RFC 7230 section 3 tolerance for old buggy clients": after a
		// POST, net/http discards up to 4 CR or LF bytes before the next
		// request line.
		f.skipEOL = 4
	}
	if h.folded || (h.te > 0 && (h.cl > 0 || !h.http11)) {
		f.badFrom = min(f.badFrom, index)
		f.off() // the handler refuses this request and closes
		return
	}
	switch {
	case h.te > 0:
		if h.te != 1 || !h.teChunked {
			f.off() // net/http answers 501 and closes
			return
		}
		f.state = stateChunkLine
	case h.cl > 0:
		n, ok := parseContentLength(h.clValue)
		if h.clMismatch || !ok {
			f.off() // net/http answers 400 and closes
			return
		}
		f.remain = n
		f.state = stateHead
		if n > 0 {
			f.state = stateBody
		}
	default:
		f.state = stateHead
	}
}

// off stops following the connection. The next head (the one being read,
// if any) and all after it count as bad.
func (f *framer) off() {
	f.badFrom = min(f.badFrom, f.heads)
	f.state = stateOff
	f.line = nil
}

// parseHex parses a chunk size as net/http does: 1 to 16 hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil || n > math.MaxUint64-2 {
		return 0, false
	}
	return n, true
}

// parseContentLength parses a Content-Length as net/http does: decimal
// digits only, at most 63 bits.
func parseContentLength(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	return n, err == nil
}

// parseVersion is http.ParseHTTPVersion without an allocation for the
// common versions.
func parseVersion(proto []byte) (major, minor int, ok bool) {
	switch string(proto) {
	case "HTTP/1.1":
		return 1, 1, true
	case "HTTP/1.0":
		return 1, 0, true
	}
	return http.ParseHTTPVersion(string(proto))
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case only, as
// net/http compares header names and transfer codings.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
