package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// ErrInvalidCSR means a certificate signing request could not be parsed or its
// signature does not verify.
var ErrInvalidCSR = errors.New("pki: invalid certificate signing request")

const (
	// backdate is how far NotBefore lies before now, to tolerate clock skew
	// between berthd and the peers that verify its certificates.
	backdate           = 5 * time.Minute
	serverCertValidity = 90 * 24 * time.Hour
	maxCommonNameLen   = 64 // RFC 5280 ub-common-name
)

// ServerCertificate issues a fresh TLS server certificate with a new ECDSA
// P-256 key, valid for 90 days (backdated 5 minutes), for hosts: each entry is
// either an IP literal, which becomes an IP address SAN, or a DNS name.
// Duplicates are dropped. The returned certificate holds the leaf only; peers
// are expected to trust the CA itself.
func (ca *CA) ServerCertificate(hosts []string, now time.Time) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("server certificate: no hosts given")
	}
	var dnsNames []string
	var ips []net.IP
	seen := make(map[string]bool)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !isDNSName(name) {
			return tls.Certificate{}, fmt.Errorf("server certificate: host %q is neither an IP address nor a DNS name", h)
		}
		if !seen[name] {
			seen[name] = true
			dnsNames = append(dnsNames, name)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := ca.issue(template, key.Public(), serverCertValidity, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// SignClientCSR verifies the signature of the DER-encoded certificate signing
// request and issues a DER-encoded client certificate (ExtKeyUsageClientAuth)
// for its public key, valid for ttl (backdated 5 minutes). The subject is
// commonName and the only SAN is the URI "berth://node/<commonName>"; the
// subject and extensions requested in the CSR are ignored. commonName is 1 to
// 64 letters, digits, '.', '_' or '-'. A CSR that does not parse or verify
// yields an error wrapping [ErrInvalidCSR].
func (ca *CA) SignClientCSR(csrDER []byte, commonName string, ttl time.Duration, now time.Time) (certDER []byte, err error) {
	if err := checkCommonName(commonName); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("client certificate %s: ttl %v must be positive", commonName, ttl)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		URIs:        []*url.URL{{Scheme: "berth", Host: "node", Path: "/" + commonName}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := ca.issue(template, csr.PublicKey, ttl, now)
	if err != nil {
		return nil, fmt.Errorf("client certificate %s: %w", commonName, err)
	}
	return der, nil
}

// SignServerCSR verifies the DER-encoded certificate signing request and
// issues a DER-encoded TLS server certificate for its public key, valid for
// ttl (backdated 5 minutes), whose only SANs are dnsNames (the first is also
// the subject). The names, extensions and subject requested in the CSR are
// ignored: the caller decides which names the key may serve. A CSR that does
// not parse or verify yields an error wrapping [ErrInvalidCSR].
func (ca *CA) SignServerCSR(csrDER []byte, dnsNames []string, ttl time.Duration, now time.Time) (certDER []byte, err error) {
	if len(dnsNames) == 0 {
		return nil, errors.New("server certificate: no DNS names given")
	}
	for _, n := range dnsNames {
		if !isDNSName(n) {
			return nil, fmt.Errorf("server certificate: %q is not a DNS name", n)
		}
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("server certificate: ttl %v must be positive", ttl)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	cn := dnsNames[0]
	if len(cn) > maxCommonNameLen {
		cn = "" // the SANs carry the names; RFC 5280 limits the CN
	}
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		DNSNames:    dnsNames,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := ca.issue(template, csr.PublicKey, ttl, now)
	if err != nil {
		return nil, fmt.Errorf("server certificate %s: %w", dnsNames[0], err)
	}
	return der, nil
}

// DefaultServerHosts returns the hosts berthd's server certificate covers by
// default: "localhost", "127.0.0.1", "::1" and the machine's host name when it
// is set and a valid DNS name, without duplicates.
func DefaultServerHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	name, err := os.Hostname()
	if err != nil {
		return hosts
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || !isDNSName(name) {
		return hosts
	}
	for _, h := range hosts {
		if h == name {
			return hosts
		}
	}
	return append(hosts, name)
}

// issue completes template with a random serial, validity, SubjectKeyId and
// the CA as issuer, and signs it. NotAfter never passes the CA's own.
func (ca *CA) issue(template *x509.Certificate, pub crypto.PublicKey, ttl time.Duration, now time.Time) ([]byte, error) {
	if !now.Before(ca.cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate expired on %s", ca.cert.NotAfter.Format(time.RFC3339))
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	template.SubjectKeyId = skid
	template.BasicConstraintsValid = true
	template.NotBefore = now.Add(-backdate)
	template.NotAfter = now.Add(ttl)
	if template.NotAfter.After(ca.cert.NotAfter) {
		template.NotAfter = ca.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return der, nil
}

// randomSerial returns a random, positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives a key identifier as RFC 7093 section 2 method 1 does
// (and as x509.CreateCertificate does for CA certificates, which it does not
// do for leaves): the leftmost 160 bits of the SHA-256 of the public key bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	h := sha256.Sum256(info.PublicKey.Bytes)
	return h[:20], nil
}

func checkCommonName(cn string) error {
	if cn == "" || len(cn) > maxCommonNameLen {
		return fmt.Errorf("client common name %q: use 1 to %d letters, digits, '.', '_' or '-'", cn, maxCommonNameLen)
	}
	for _, r := range cn {
		if !isAlnum(r) && r != '.' && r != '_' && r != '-' {
			return fmt.Errorf("client common name %q: %q is not allowed, use letters, digits, '.', '_' or '-'", cn, r)
		}
	}
	return nil
}

// isDNSName reports whether name is a plausible host name for a certificate:
// dot-separated labels of letters, digits, '-' and '_', optionally starting
// with a "*." wildcard label.
func isDNSName(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !isAlnum(r) && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
