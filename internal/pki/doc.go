// Package pki is berthd's internal certificate authority.
//
// The CA lives in two files in berthd's data directory: ca.pem (the
// self-signed CA certificate, 0644) and ca-key.pem (its PKCS #8 ECDSA P-256
// private key, 0600). [LoadOrCreateCA] creates them on first start and loads
// them afterwards; it never overwrites an existing file.
//
// The CA signs berthd's own TLS server certificate ([CA.ServerCertificate]),
// node agents' client certificates from their certificate signing requests
// ([CA.SignClientCSR]) and TLS server certificates for sites' development
// domains, names under suffixes such as .test that no public CA issues for,
// from the CSRs node agents send ([CA.SignServerCSR]; the API decides which
// names a node may get). Agents trust berthd through [CA.CertPEM]; berthd
// trusts agents through [CA.Pool].
package pki
