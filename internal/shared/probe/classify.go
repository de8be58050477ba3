package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// classify returns the error class and a short message for a probe that
// failed with err. parent is the caller's context, to tell a probe cut
// short by its caller from one that timed out.
func classify(err error, ph phases, parent context.Context, timeout time.Duration) (class, msg string) {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		msg := err.Error()
		if i := strings.Index(msg, ErrForbiddenAddress.Error()); i >= 0 {
			msg = msg[i+len("probe: "):]
		}
		return ClassOther, truncate(msg)
	case parent.Err() != nil:
		return ClassOther, "probe canceled"
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return ClassDNS, truncate(fmt.Sprintf("%s: no such host", dnsErr.Name))
		case dnsErr.IsTimeout:
			return ClassDNS, truncate(fmt.Sprintf("%s: DNS lookup timed out", dnsErr.Name))
		default:
			return ClassDNS, truncate(fmt.Sprintf("%s: %s", dnsErr.Name, dnsErr.Err))
		}
	case isTimeout(err):
		return ClassTimeout, fmt.Sprintf("timeout after %s %s", timeout, ph.stage())
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused, "connection refused"
	case isTLS(err, ph):
		return ClassTLS, truncate(tlsMessage(err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "server closed idle connection"):
		return ClassOther, "connection closed by the edge " + ph.stage()
	case errors.Is(err, syscall.ECONNRESET):
		return ClassOther, "connection reset by the edge " + ph.stage()
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ClassOther, "host unreachable"
	default:
		return ClassOther, truncate(innermostMessage(err))
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTLS tells handshake and certificate failures. Errors of the handshake
// itself count even when crypto/tls does not type them (a peer that is not
// speaking TLS, or closed the connection mid-handshake).
func isTLS(err error, ph phases) bool {
	var (
		verifyErr   *tls.CertificateVerificationError
		unknownErr  x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		echErr      *tls.ECHRejectionError
		opErr       *net.OpError
	)
	switch {
	case errors.As(err, &verifyErr), errors.As(err, &unknownErr), errors.As(err, &hostnameErr),
		errors.As(err, &invalidErr), errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &echErr):
		return true
	case errors.As(err, &opErr) && opErr.Op == "remote error": // an alert from the server
		return true
	case !ph.tlsStart.IsZero() && (ph.tlsDone.IsZero() || ph.tlsErr != nil):
		return true
	}
	return false
}

// tlsMessage names a TLS failure in a few words.
func tlsMessage(err error) string {
	var (
		unknownErr  x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownErr):
		return "certificate signed by an unknown authority"
	case errors.As(err, &hostnameErr):
		return "certificate name mismatch: " + strings.TrimPrefix(hostnameErr.Error(), "x509: ")
	case errors.As(err, &invalidErr):
		return "certificate invalid: " + strings.TrimPrefix(invalidErr.Error(), "x509: ")
	case errors.As(err, &recordErr):
		return "the edge did not answer with TLS"
	}
	return "TLS handshake failed: " + strings.TrimPrefix(innermostMessage(err), "tls: ")
}

// innermostMessage drops the Op/URL wrappers of net and net/http errors,
// which repeat the address the caller already knows.
func innermostMessage(err error) string {
	for {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil && opErr.Op != "remote error" {
			err = opErr.Err
			continue
		}
		var sysErr *os.SyscallError
		if errors.As(err, &sysErr) && sysErr.Err != nil {
			err = sysErr.Err
			continue
		}
		return err.Error()
	}
}

// certNotAfter finds the leaf certificate of a failed probe: the one that
// failed verification, or the one of a completed handshake.
func certNotAfter(err error, st *tls.ConnectionState) time.Time {
	var verifyErr *tls.CertificateVerificationError
	if errors.As(err, &verifyErr) && len(verifyErr.UnverifiedCertificates) > 0 {
		return verifyErr.UnverifiedCertificates[0].NotAfter
	}
	if st != nil && len(st.PeerCertificates) > 0 {
		return st.PeerCertificates[0].NotAfter
	}
	return time.Time{}
}
