package certs

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"
)

// internalIssuerKey names the internal issuer in certmagic's storage keys
// (certificates/internal/NAME/...) and in DomainStatus.Issuer.
const internalIssuerKey = "internal"

// signTimeout bounds one SignCertificate call.
const signTimeout = 30 * time.Second

// internalIssuer is a certmagic.Issuer that has the control plane's CA sign
// certificates for internal names, through Signer.
type internalIssuer struct {
	signer Signer // nil: internal names cannot get a certificate
}

func (internalIssuer) IssuerKey() string { return internalIssuerKey }

// Issue sends the CSR to the control plane and checks that what comes back
// is a certificate for the CSR's key and names before certmagic stores it.
func (i internalIssuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if i.signer == nil {
		return nil, errors.New("no internal CA is configured on this node")
	}
	ctx, cancel := context.WithTimeout(ctx, signTimeout)
	defer cancel()
	chain, err := i.signer.SignCertificate(ctx, csr.Raw)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	block, _ := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("internal CA: the answer is not a PEM certificate chain")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(csr.PublicKey) {
		return nil, errors.New("internal CA: the certificate is not for the requested key")
	}
	for _, name := range csr.DNSNames {
		if err := leaf.VerifyHostname(name); err != nil {
			return nil, fmt.Errorf("internal CA: %w", err)
		}
	}
	return &certmagic.IssuedCertificate{Certificate: chain}, nil
}

var _ certmagic.Issuer = internalIssuer{}
