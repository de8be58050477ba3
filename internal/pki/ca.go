package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
)

// File names of the CA inside the directory given to [LoadOrCreateCA].
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

const caValidityYears = 10

// CA is a loaded certificate authority. Safe for concurrent use: it is
// immutable once loaded.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	pool    *x509.CertPool
}

// LoadOrCreateCA loads dir/ca.pem and dir/ca-key.pem, or creates them when
// both are absent: a self-signed ECDSA P-256 CA named "Berth CA <random>",
// valid for 10 years from now. created reports whether the files were created.
//
// Each file is written atomically (temporary file in dir, fsync, rename), so a
// crash never leaves a partial key. If only one of the two files exists,
// LoadOrCreateCA returns an error naming the missing one and writes nothing.
// It refuses a key file that group or others may access, and a CA certificate
// that has expired at now or does not match the key.
func LoadOrCreateCA(dir string, now time.Time) (ca *CA, created bool, err error) {
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)
	certExists, err := exists(certPath)
	if err != nil {
		return nil, false, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certExists && keyExists:
		ca, err := loadCA(certPath, keyPath, now)
		if err != nil {
			return nil, false, err
		}
		return ca, false, nil
	case certExists:
		return nil, false, fmt.Errorf("CA key %s is missing but %s exists: restore the key, or remove %s to create a new CA", keyPath, certPath, certPath)
	case keyExists:
		return nil, false, fmt.Errorf("CA certificate %s is missing but %s exists: restore the certificate, or remove %s to create a new CA", certPath, keyPath, keyPath)
	}
	ca, err = createCA(dir, now)
	if err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// Certificate returns the CA certificate. Callers must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the PEM-encoded CA certificate, as agents need it to trust
// berthd. The caller may modify the returned slice.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a new certificate pool holding only the CA certificate, for
// tls.Config.RootCAs or ClientCAs. The caller may modify the returned pool.
func (ca *CA) Pool() *x509.CertPool { return ca.pool.Clone() }

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
}

func loadCA(certPath, keyPath string, now time.Time) (*CA, error) {
	info, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", keyPath, err)
	}
	// Windows has no Unix permission bits; os.Stat reports 0666 there.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("CA key %s has mode %04o and is accessible by other users: run chmod 600 %s", keyPath, perm, keyPath)
	}

	certBytes, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", certPath, err)
	}
	block, _ := pem.Decode(certBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("parse %s: no PEM CERTIFICATE block", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", certPath, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("parse %s: not a CA certificate", certPath)
	}
	if !now.Before(cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate %s expired on %s: remove %s and %s to create a new CA, then re-enroll every node",
			certPath, cert.NotAfter.Format(time.RFC3339), certPath, keyPath)
	}

	keyBytes, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", keyPath, err)
	}
	key, err := parseKey(keyBytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", keyPath, err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("CA key %s does not belong to certificate %s", keyPath, certPath)
	}
	return newCA(cert, key), nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q, want PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", key)
	}
	return signer, nil
}

func createCA(dir string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("generate CA name: %w", err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Berth CA " + hex.EncodeToString(suffix)},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	keyPath := filepath.Join(dir, KeyFile)
	// The key goes first: a crash between the two writes then leaves only the
	// key, which LoadOrCreateCA reports instead of silently replacing.
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	ca := newCA(cert, key)
	if err := atomicfile.Write(filepath.Join(dir, CertFile), ca.certPEM, 0o644); err != nil {
		// Without its certificate the key is useless and would block the next start.
		os.Remove(keyPath)
		return nil, err
	}
	return ca, nil
}

func newCA(cert *x509.Certificate, key crypto.Signer) *CA {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
		pool:    pool,
	}
}
