package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
)

// Files of the node's identity in the data directory.
const (
	keyFile   = "node-key.pem" // PKCS #8 ECDSA P-256 key, 0600
	certFile  = "node.pem"     // client certificate from berthd's CA
	caFile    = "ca.pem"       // berthd's CA
	nodeFile  = "node.json"    // {node_id, node_name, server}; written last
	newSuffix = ".new"         // key and certificate staged during renewal
)

// ErrNotJoined means the data directory holds no complete identity: the node
// has not joined yet, or a join was interrupted before it finished.
var ErrNotJoined = errors.New("agent: this node has not joined a fleet")

// Identity is who the node is to berthd: its node id, the client certificate
// that proves it, and the CA that berthd's own certificate must chain to.
type Identity struct {
	NodeID   string
	NodeName string
	// Server is berthd's address as host:port.
	Server string
	// Cert holds the node's certificate and key, with Leaf set.
	Cert   tls.Certificate
	CAPool *x509.CertPool
	CAPEM  []byte
}

type nodeRecord struct {
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name,omitempty"`
	Server   string `json:"server"`
}

// LoadIdentity reads the identity that Join saved in dataDir. It returns
// ErrNotJoined if node.json does not exist. A renewal interrupted by a crash
// is completed first (see renewFiles).
func LoadIdentity(dataDir string) (Identity, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, nodeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, ErrNotJoined
	} else if err != nil {
		return Identity{}, fmt.Errorf("read identity: %w", err)
	}
	var rec nodeRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.NodeID == "" || rec.Server == "" {
		return Identity{}, fmt.Errorf("identity file %s is damaged; to rejoin, remove it and run with a new --join-token", filepath.Join(dataDir, nodeFile))
	}
	caPEM, err := os.ReadFile(filepath.Join(dataDir, caFile))
	if err != nil {
		return Identity{}, fmt.Errorf("read identity: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return Identity{}, fmt.Errorf("read identity: %s holds no certificate", filepath.Join(dataDir, caFile))
	}
	cert, err := loadKeyPair(dataDir)
	if err != nil {
		return Identity{}, fmt.Errorf("read identity: %w", err)
	}
	return Identity{NodeID: rec.NodeID, NodeName: rec.NodeName, Server: rec.Server, Cert: cert, CAPool: pool, CAPEM: caPEM}, nil
}

// loadKeyPair loads the node's key and certificate. Renewal stages the new
// pair as *.new files and then renames the key before the certificate, so
// after a crash the key may already be new while the certificate is old;
// the staged certificate then completes the pair.
func loadKeyPair(dataDir string) (tls.Certificate, error) {
	keyPath, certPath := filepath.Join(dataDir, keyFile), filepath.Join(dataDir, certFile)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil {
		os.Remove(keyPath + newSuffix)
		os.Remove(certPath + newSuffix)
		return cert, nil
	}
	staged, serr := os.ReadFile(certPath + newSuffix)
	if serr != nil {
		return tls.Certificate{}, fmt.Errorf("%s does not match %s: %w", certPath, keyPath, err)
	}
	cert, serr = tls.X509KeyPair(staged, keyPEM)
	if serr != nil {
		return tls.Certificate{}, fmt.Errorf("%s does not match %s: %w", certPath, keyPath, err)
	}
	if err := os.Rename(certPath+newSuffix, certPath); err != nil {
		return tls.Certificate{}, fmt.Errorf("complete certificate renewal: %w", err)
	}
	return cert, nil
}

// saveIdentity writes the identity files, node.json last.
func saveIdentity(dataDir string, id Identity, keyPEM, certPEM []byte) error {
	rec, err := json.MarshalIndent(nodeRecord{NodeID: id.NodeID, NodeName: id.NodeName, Server: id.Server}, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm fs.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, certPEM, 0o644},
		{caFile, id.CAPEM, 0o644},
		{nodeFile, append(rec, '\n'), 0o644},
	} {
		if err := atomicfile.Write(filepath.Join(dataDir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// saveRenewed replaces the node's key and certificate. Both are staged as
// *.new files, then the key is renamed before the certificate; loadKeyPair
// completes the pair if a crash falls between the two renames.
func saveRenewed(dataDir string, keyPEM, certPEM []byte) error {
	keyPath, certPath := filepath.Join(dataDir, keyFile), filepath.Join(dataDir, certFile)
	if err := atomicfile.Write(keyPath+newSuffix, keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(certPath+newSuffix, certPEM, 0o644); err != nil {
		return err
	}
	if err := os.Rename(keyPath+newSuffix, keyPath); err != nil {
		return fmt.Errorf("install renewed key: %w", err)
	}
	if err := os.Rename(certPath+newSuffix, certPath); err != nil {
		return fmt.Errorf("install renewed certificate: %w", err)
	}
	return atomicfile.SyncDir(dataDir)
}

// certHolder holds the node's current client certificate; renewal swaps it
// while connections keep handshaking with it. Safe for concurrent use.
type certHolder struct {
	mu   sync.RWMutex // guards cert
	cert *tls.Certificate
}

func newCertHolder(c tls.Certificate) *certHolder { return &certHolder{cert: &c} }

func (h *certHolder) get() *tls.Certificate {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cert
}

func (h *certHolder) set(c tls.Certificate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cert = &c
}

func (h *certHolder) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return h.get(), nil
}
