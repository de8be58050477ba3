package agentapi

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// The nodes' certificate storage. certmagic lays keys out as
//
//	acme/<issuer>/users/<email>/...         ACME accounts, shared by the fleet
//	certificates/<issuer>/<domain>/<domain>.{crt,key,json}
//	rw_test_<number>                        certmagic's check that storage works
//
// A node may read and write the accounts and the certificates of domains of
// sites placed on it, and nothing else: a node cannot read another client's
// private keys by asking for them.

const (
	maxCertKeyLen   = 512
	maxCertValueLen = 1 << 20
	// internalCertTTL is the life of an internal-issuer site certificate;
	// nodes renew it when a third is left.
	internalCertTTL = 90 * 24 * time.Hour
)

// certKeyScope says what a certificate-storage key is.
type certKeyScope int

const (
	certKeyInvalid   certKeyScope = iota
	certKeyAccount                // under acme/
	certKeyDomain                 // under certificates/<issuer>/<domain>/
	certKeyDirectory              // "certificates" or "certificates/<issuer>": only listable
	certKeyProbe                  // rw_test_<number>: written, read and deleted at once
)

// classifyCertKey checks the syntax of key and returns its scope and, for a
// domain key, the domain.
func classifyCertKey(key string) (certKeyScope, string) {
	if key == "" || len(key) > maxCertKeyLen || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return certKeyInvalid, ""
	}
	for _, r := range key {
		if r <= ' ' || r > '~' || r == '\\' {
			return certKeyInvalid, ""
		}
	}
	parts := strings.Split(key, "/")
	if slices.Contains(parts, "") || slices.Contains(parts, ".") || slices.Contains(parts, "..") {
		return certKeyInvalid, ""
	}
	switch {
	case len(parts) == 1 && isStorageProbe(key):
		return certKeyProbe, ""
	case parts[0] == "acme":
		return certKeyAccount, ""
	case parts[0] == "certificates" && len(parts) <= 2:
		return certKeyDirectory, ""
	case parts[0] == "certificates":
		return certKeyDomain, parts[2]
	}
	return certKeyInvalid, ""
}

// isStorageProbe matches the keys of certmagic's storage check.
func isStorageProbe(key string) bool {
	n, ok := strings.CutPrefix(key, "rw_test_")
	if !ok || n == "" || len(n) > 20 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var errCertKey = status.Error(codes.PermissionDenied,
	"a node may use only ACME account keys and the certificates of domains of sites placed on it")

// nodeDomains returns the domains of the sites placed on the node.
func (s agentService) nodeDomains(ctx context.Context, nodeID string) (map[string]bool, error) {
	domains := map[string]bool{}
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		for site, err := range store.AllSites(tx, store.SiteFilter{NodeID: nodeID}) {
			if err != nil {
				return err
			}
			for _, d := range site.Domains() {
				domains[d] = true
			}
		}
		return nil
	})
	return domains, err
}

// authorizeCertKey checks that the calling node may use key as an item
// (not a directory).
func (s agentService) authorizeCertKey(ctx context.Context, key string) error {
	scope, domain := classifyCertKey(key)
	switch scope {
	case certKeyAccount, certKeyProbe:
		return nil
	case certKeyDomain:
		domains, err := s.nodeDomains(ctx, auth.FromContext(ctx).NodeID)
		if err != nil {
			return err
		}
		if domains[domain] {
			return nil
		}
		return errCertKey
	case certKeyDirectory:
		return errCertKey
	}
	return &validate.Error{Field: "key", Msg: "must be a '/'-separated path of printable characters, at most 512"}
}

func (s agentService) GetCertData(ctx context.Context, req *agentv1.GetCertDataRequest) (*agentv1.GetCertDataResponse, error) {
	if err := s.authorizeCertKey(ctx, req.GetKey()); err != nil {
		return nil, err
	}
	var d *store.CertData
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		d, err = tx.GetCertData(req.GetKey())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &agentv1.GetCertDataResponse{Value: d.Value, ModifyTime: timestamppb.New(d.ModifyTime)}, nil
}

func (s agentService) PutCertData(ctx context.Context, req *agentv1.PutCertDataRequest) (*agentv1.PutCertDataResponse, error) {
	if err := s.authorizeCertKey(ctx, req.GetKey()); err != nil {
		return nil, err
	}
	if len(req.GetValue()) > maxCertValueLen {
		return nil, &validate.Error{Field: "value", Msg: "is larger than 1 MiB"}
	}
	rpc.SetResource(ctx, req.GetKey(), "")
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutCertData(&store.CertData{Key: req.GetKey(), Value: req.GetValue(), ModifyTime: s.now()}); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, req.GetKey(), "")
	})
	if err != nil {
		return nil, err
	}
	return &agentv1.PutCertDataResponse{}, nil
}

func (s agentService) DeleteCertData(ctx context.Context, req *agentv1.DeleteCertDataRequest) (*agentv1.DeleteCertDataResponse, error) {
	if err := s.authorizeCertKey(ctx, req.GetKey()); err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, req.GetKey(), "")
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteCertData(req.GetKey()); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, req.GetKey(), "")
	})
	if err != nil {
		return nil, err
	}
	return &agentv1.DeleteCertDataResponse{}, nil
}

// visibleCertKey says whether a listed key may be shown to a node that
// serves domains.
func visibleCertKey(key string, domains map[string]bool) bool {
	scope, domain := classifyCertKey(key)
	return scope == certKeyAccount || scope == certKeyDirectory || (scope == certKeyDomain && domains[domain])
}

func (s agentService) ListCertData(ctx context.Context, req *agentv1.ListCertDataRequest) (*agentv1.ListCertDataResponse, error) {
	if req.GetPrefix() != "" {
		if scope, _ := classifyCertKey(req.GetPrefix()); scope == certKeyInvalid {
			return nil, &validate.Error{Field: "prefix", Msg: "must be empty or a '/'-separated path of printable characters"}
		}
	}
	domains, err := s.nodeDomains(ctx, auth.FromContext(ctx).NodeID)
	if err != nil {
		return nil, err
	}
	var keys []string
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		keys, err = tx.ListCertData(req.GetPrefix(), req.GetRecursive())
		return err
	})
	if err != nil {
		return nil, err
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return !visibleCertKey(k, domains) })
	if len(keys) == 0 {
		return nil, status.Errorf(codes.NotFound, "no certificate data under %q", req.GetPrefix())
	}
	return &agentv1.ListCertDataResponse{Keys: keys}, nil
}

func (s agentService) StatCertData(ctx context.Context, req *agentv1.StatCertDataRequest) (*agentv1.StatCertDataResponse, error) {
	scope, _ := classifyCertKey(req.GetKey())
	if scope == certKeyInvalid {
		return nil, s.authorizeCertKey(ctx, req.GetKey()) // the syntax error
	}
	if scope != certKeyDirectory {
		if err := s.authorizeCertKey(ctx, req.GetKey()); err != nil {
			return nil, err
		}
	}
	var info store.CertDataInfo
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		info, err = tx.StatCertData(req.GetKey())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &agentv1.StatCertDataResponse{Key: info.Key, Size: info.Size, ModifyTime: timestamppb.New(info.ModifyTime), Terminal: info.IsTerminal}, nil
}

// validLockName accepts certmagic's lock names, e.g. "issue_cert_example.com".
func validLockName(name string) error {
	if name == "" || len(name) > 300 {
		return &validate.Error{Field: "name", Msg: "must be 1 to 300 characters"}
	}
	for _, r := range name {
		if r <= ' ' || r > '~' {
			return &validate.Error{Field: "name", Msg: "must be printable ASCII without spaces"}
		}
	}
	return nil
}

func (s agentService) LockCertData(ctx context.Context, req *agentv1.LockCertDataRequest) (*agentv1.LockCertDataResponse, error) {
	if err := validLockName(req.GetName()); err != nil {
		return nil, err
	}
	ttl := req.GetTtlSeconds()
	if ttl < 10 || ttl > 3600 {
		return nil, &validate.Error{Field: "ttl_seconds", Msg: "must be 10 to 3600"}
	}
	owner := auth.FromContext(ctx).NodeID
	var ok bool
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		now := s.now()
		ok, err = tx.AcquireCertLock(req.GetName(), owner, now, now.Add(time.Duration(ttl)*time.Second))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &agentv1.LockCertDataResponse{Acquired: ok}, nil
}

func (s agentService) UnlockCertData(ctx context.Context, req *agentv1.UnlockCertDataRequest) (*agentv1.UnlockCertDataResponse, error) {
	if err := validLockName(req.GetName()); err != nil {
		return nil, err
	}
	owner := auth.FromContext(ctx).NodeID
	err := s.store.Update(ctx, func(tx store.Tx) error { return tx.ReleaseCertLock(req.GetName(), owner) })
	if err != nil {
		return nil, err
	}
	return &agentv1.UnlockCertDataResponse{}, nil
}

// internalName says whether domain lies under one of the suffixes.
func internalName(domain string, suffixes []string) bool {
	for _, s := range suffixes {
		if domain == s || strings.HasSuffix(domain, "."+s) {
			return true
		}
	}
	return false
}

func (s agentService) SignCertificate(ctx context.Context, req *agentv1.SignCertificateRequest) (*agentv1.SignCertificateResponse, error) {
	csr, err := x509.ParseCertificateRequest(req.GetCsrDer())
	if err != nil || csr.CheckSignature() != nil {
		return nil, &validate.Error{Field: "csr_der", Msg: "is not a valid, signed PKCS #10 certificate request"}
	}
	if len(csr.IPAddresses) > 0 || len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, &validate.Error{Field: "csr_der", Msg: "may ask only for DNS names"}
	}
	if len(csr.DNSNames) == 0 || len(csr.DNSNames) > 100 {
		return nil, &validate.Error{Field: "csr_der", Msg: "must ask for 1 to 100 DNS names"}
	}
	nodeID := auth.FromContext(ctx).NodeID
	domains, err := s.nodeDomains(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	for _, name := range csr.DNSNames {
		if !internalName(name, s.internalSuffixes) {
			return nil, status.Errorf(codes.PermissionDenied,
				"%s is not a development name (under .%s): get its certificate from a public CA (ACME)", name, strings.Join(s.internalSuffixes, ", ."))
		}
		if !domains[name] {
			return nil, status.Errorf(codes.PermissionDenied, "%s is not a domain of a site placed on this node", name)
		}
	}
	rpc.SetResource(ctx, csr.DNSNames[0], "")
	der, err := s.ca.SignServerCSR(req.GetCsrDer(), csr.DNSNames, internalCertTTL, s.now())
	if err != nil {
		return nil, &validate.Error{Field: "csr_der", Msg: err.Error()}
	}
	if err := s.store.Update(ctx, func(tx store.Tx) error { return s.auditInTx(ctx, tx, csr.DNSNames[0], "") }); err != nil {
		return nil, err
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &agentv1.SignCertificateResponse{ChainPem: append(chain, s.ca.CertPEM()...)}, nil
}

// certificateCondition summarises a site's certificates: False names the
// domains whose certificate failed and the CA's answer.
func certificateCondition(certs []store.CertificateStatus, now time.Time) (store.Condition, bool) {
	if len(certs) == 0 {
		return store.Condition{}, false
	}
	var failing []string
	for _, c := range certs {
		if c.LastError != "" {
			failing = append(failing, fmt.Sprintf("%s: %s", c.Domain, c.LastError))
		}
	}
	if len(failing) > 0 {
		return store.Condition{Type: "Certificates", Status: "False", Reason: "ObtainFailed",
			Message: truncate(strings.Join(failing, "; "), 1024), LastTransitionTime: now}, true
	}
	for _, c := range certs {
		if c.NotAfter.IsZero() {
			return store.Condition{Type: "Certificates", Status: "Unknown", Reason: "Obtaining",
				Message: "obtaining a certificate for " + c.Domain, LastTransitionTime: now}, true
		}
	}
	return store.Condition{Type: "Certificates", Status: "True", Reason: "Valid",
		Message: "every domain has a valid certificate", LastTransitionTime: now}, true
}
