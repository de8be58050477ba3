package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// joinTimeout bounds the Join call, TLS handshake included.
const joinTimeout = 30 * time.Second

// JoinConfig is what Join needs from the agent's configuration.
type JoinConfig struct {
	// Server is berthd's address: https://host:port, host:port or host.
	Server string
	// JoinToken is the token made by `berth node join-token`.
	JoinToken string
	// NodeName is the name the node asks to join under.
	NodeName string
	// DataDir is where the identity is saved.
	DataDir string
}

// Join trades cfg.JoinToken for the node's identity: it makes a new key and a
// certificate signing request, calls AgentService.Join on cfg.Server over a
// TLS connection pinned to the CA hash in the token, and saves the identity
// in cfg.DataDir. The key is written first and node.json last, so a crash in
// between leaves the node "not joined".
func Join(ctx context.Context, cfg JoinConfig, facts *agentv1.NodeFacts) (Identity, error) {
	secret, caHash, err := ParseJoinToken(cfg.JoinToken)
	if err != nil {
		return Identity{}, err
	}
	addr, host, err := ServerAddress(cfg.Server)
	if err != nil {
		return Identity{}, err
	}
	key, keyPEM, csr, err := newKeyAndCSR(cfg.NodeName)
	if err != nil {
		return Identity{}, err
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLSConfig(host, caHash))))
	if err != nil {
		return Identity{}, fmt.Errorf("join %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	resp, err := agentv1.NewAgentServiceClient(conn).Join(ctx, &agentv1.JoinRequest{
		JoinToken: secret, NodeName: cfg.NodeName, CsrDer: csr, Facts: facts,
	})
	if err != nil {
		return Identity{}, joinError(addr, cfg.NodeName, err)
	}

	caPEM := resp.GetCaPem()
	ca, err := parseCAPEM(caPEM)
	if err != nil {
		return Identity{}, fmt.Errorf("join: berthd sent a bad CA: %w", err)
	}
	if sum := sha256.Sum256(ca.Raw); !bytes.Equal(sum[:], caHash) {
		return Identity{}, errors.New("join: berthd sent a CA other than the one pinned in the join token")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cert, certPEM, err := clientCert(resp.GetCertificateDer(), key, pool)
	if err != nil {
		return Identity{}, fmt.Errorf("join: berthd sent a bad certificate: %w", err)
	}
	if resp.GetNodeId() == "" || resp.GetNodeId() != cert.Leaf.Subject.CommonName {
		return Identity{}, fmt.Errorf("join: node id %q does not match the certificate's %q", resp.GetNodeId(), cert.Leaf.Subject.CommonName)
	}

	id := Identity{NodeID: resp.GetNodeId(), NodeName: cfg.NodeName, Server: addr, Cert: cert, CAPool: pool, CAPEM: caPEM}
	if err := saveIdentity(cfg.DataDir, id, keyPEM, certPEM); err != nil {
		return Identity{}, fmt.Errorf("join succeeded as node %s but saving its identity failed, so this node must join again with a new token: %w", id.NodeID, err)
	}
	return id, nil
}

func joinError(addr, name string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("join %s: %w", addr, err)
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return errors.New("join token rejected: it is invalid, expired or already used — make a new one with `berth node join-token`")
	case codes.AlreadyExists:
		return fmt.Errorf("join: a node named %q exists already — choose another --node-name, or delete the old node with `berth node delete`", name)
	case codes.InvalidArgument:
		return fmt.Errorf("join: berthd refused the request: %s", st.Message())
	case codes.Unavailable:
		if strings.Contains(st.Message(), "handshake") {
			return fmt.Errorf("join: cannot verify berthd at %s: %s", addr, st.Message())
		}
		return fmt.Errorf("join: cannot reach berthd at %s (check --server, and that the join token was made by that berthd): %s", addr, st.Message())
	}
	return fmt.Errorf("join %s: %s: %s", addr, st.Code(), st.Message())
}

// pinnedTLSConfig trusts the server only if it presents, besides its leaf,
// the CA certificate whose SHA-256 is caHash, and the leaf chains to that CA
// and is valid for host. It is used once, to join, before the node knows
// berthd's CA.
func pinnedTLSConfig(host string, caHash []byte) *tls.Config {
	return &tls.Config{
		ServerName: host,
		MinVersion: tls.VersionTLS12,
		// The default verification needs roots we do not have yet;
		// VerifyConnection does it against the pinned CA instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, host, caHash)
		},
	}
}

func verifyPinned(certs []*x509.Certificate, host string, caHash []byte) error {
	if len(certs) == 0 {
		return errors.New("server presented no certificate")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	found := false
	for _, c := range certs {
		if sum := sha256.Sum256(c.Raw); bytes.Equal(sum[:], caHash) {
			roots.AddCert(c)
			found = true
		} else {
			inter.AddCert(c)
		}
	}
	if !found {
		return fmt.Errorf("the server did not present the CA pinned in the join token (sha256 %s…): check that --server is the berthd that made the token", hex.EncodeToString(caHash)[:12])
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("server certificate does not verify against the pinned CA: %w", err)
	}
	return nil
}

// newKeyAndCSR makes an ECDSA P-256 key and a certificate signing request
// for it. berthd sets the certificate's subject itself; the CSR's is a hint.
func newKeyAndCSR(commonName string) (*ecdsa.PrivateKey, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate node key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("marshal node key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName},
	}, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return key, keyPEM, csr, nil
}

// clientCert checks that der is a client certificate for key issued by a CA
// in roots, and returns it as a tls.Certificate with its PEM encoding.
func clientCert(der []byte, key *ecdsa.PrivateKey, roots *x509.CertPool) (tls.Certificate, []byte, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return tls.Certificate{}, nil, errors.New("it is not for the node's key")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, nil
}

func parseCAPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if !ca.IsCA {
		return nil, errors.New("not a CA certificate")
	}
	return ca, nil
}
