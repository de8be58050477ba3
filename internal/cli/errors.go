package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errNoToken is returned before dialing when a command needs a token and none is configured.
var errNoToken = errors.New("no API token: run `berth login`, or set --token / BERTH_TOKEN")

// usageError is a mistake in how a command was called (bad flag value,
// missing argument, conflicting flags). Run exits with code 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errContext is what errorMessage needs to know about the invocation to say
// what to do next.
type errContext struct {
	server  string        // e.g. "https://localhost:8443"
	ca      string        // the --ca file in use, if any
	timeout time.Duration // the per-call timeout
}

// errorMessage turns an error returned by a command into the line shown to
// the user. gRPC status errors are mapped by code to a message that says what
// to do; connection failures name the server and the flag to change.
func errorMessage(err error, ec errContext) string {
	if errors.Is(err, context.Canceled) {
		return "error: interrupted"
	}
	st, ok := status.FromError(err)
	if !ok {
		return "error: " + err.Error()
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Canceled:
		return "error: interrupted"
	case codes.Unavailable:
		return "error: " + unavailableMessage(msg, ec)
	case codes.DeadlineExceeded:
		if ec.timeout > 0 {
			return fmt.Sprintf("error: berthd at %s did not answer within %s: raise --timeout, or check that it is healthy", ec.server, shortDuration(ec.timeout))
		}
		return fmt.Sprintf("error: %s (%s)", msg, st.Code())
	case codes.Unauthenticated:
		return fmt.Sprintf("error: %s (run `berth login` or check --token)", msg)
	default:
		return fmt.Sprintf("error: %s (%s)", msg, st.Code())
	}
}

// unavailableMessage explains a failure to reach berthd. grpc-go reports
// dial and TLS handshake failures as Unavailable with the Go error text in
// the message, so the cause is recognised by that text.
func unavailableMessage(msg string, ec errContext) string {
	at := "berthd at " + ec.server
	switch {
	case strings.Contains(msg, "connection refused"):
		return at + " is not reachable: connection refused — is it running? set --server or BERTH_SERVER"
	case strings.Contains(msg, "certificate signed by unknown authority"),
		strings.Contains(msg, "certificate is not trusted"):
		if ec.ca != "" {
			return fmt.Sprintf("%s: certificate is not trusted by %s: pass berthd's DATA/ca.pem as --ca (or BERTH_CA)", at, ec.ca)
		}
		return at + ": certificate is not trusted: pass --ca DATA/ca.pem (or BERTH_CA)"
	case strings.Contains(msg, "x509: certificate is valid for"):
		return fmt.Sprintf("%s: certificate does not match the host name (%s): use a host name in --server that the certificate is valid for", at, x509Detail(msg))
	case strings.Contains(msg, "x509:"):
		return fmt.Sprintf("%s: certificate rejected: %s", at, x509Detail(msg))
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return at + " did not answer with TLS: is --server the berthd port (default 8443)?"
	case strings.Contains(msg, "no such host"), strings.Contains(msg, "produced zero addresses"):
		return at + " is not reachable: host not found — check --server or BERTH_SERVER"
	case strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "no route to host"), strings.Contains(msg, "network is unreachable"):
		return at + " is not reachable: no answer from the network — check --server and your connection"
	default:
		return fmt.Sprintf("%s is not reachable: %s (%s)", at, msg, codes.Unavailable)
	}
}

// x509Detail returns the part of a TLS error message from "x509:" on.
func x509Detail(msg string) string {
	if i := strings.Index(msg, "x509:"); i >= 0 {
		return strings.TrimRight(msg[i:], `"`)
	}
	return msg
}

// shortDuration formats d without trailing zero units: 10m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
