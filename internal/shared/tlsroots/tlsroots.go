// Package tlsroots builds the certificate pools that berthd and the node
// verify TLS servers against: the system's roots plus files of extra ones
// (a test ACME server's, a private CA's).
package tlsroots

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Pool returns the system's roots (none if the system has no pool) plus
// every PEM certificate in each named file; empty names are skipped. A file
// that cannot be read, or holds no PEM certificate, is an error: a typo in
// a roots setting must not go unnoticed until a handshake fails.
func Pool(files ...string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in the file", f)
		}
	}
	return pool, nil
}
