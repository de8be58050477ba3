package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/agents/certs"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	// certCallTimeout bounds one certificate-storage call to berthd; past
	// it the node falls back to its local copy.
	certCallTimeout = 15 * time.Second
	// certLockTTL is the lease of a certificate lock in berthd: long
	// enough for an ACME order with its challenges, short enough that a
	// node that died holding one blocks the others only briefly.
	certLockTTL = 5 * time.Minute
)

// CertStorage is the control plane's certificate storage and CA, reached
// over the session's mTLS connection; it implements certs.Remote and
// certs.Signer. While the session is not running, every call fails with
// certs.ErrUnavailable. Safe for concurrent use.
type CertStorage struct{ session *Session }

// CertStorage returns the certificate storage reached through s.
func (s *Session) CertStorage() CertStorage { return CertStorage{session: s} }

var (
	_ certs.Remote = CertStorage{}
	_ certs.Signer = CertStorage{}
)

// call runs f with the session's client, translating gRPC failures into the
// errors package certs expects.
func (r CertStorage) call(ctx context.Context, op, key string, f func(context.Context, agentv1.AgentServiceClient) error) error {
	client := r.session.Client()
	if client == nil {
		return fmt.Errorf("%s %s: %w", op, key, certs.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, certCallTimeout)
	defer cancel()
	err := f(ctx, client)
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return fmt.Errorf("%s %s: %w", op, key, fs.ErrNotExist)
	case codes.Canceled:
		return err // the caller gave up
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%s %s: %w: %s", op, key, certs.ErrUnavailable, status.Convert(err).Message())
	}
	return fmt.Errorf("%s %s: %s", op, key, status.Convert(err).Message())
}

// Load implements certs.Remote.
func (r CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := r.call(ctx, "load", key, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		resp, err := c.GetCertData(ctx, &agentv1.GetCertDataRequest{Key: key})
		v = resp.GetValue()
		return err
	})
	return v, err
}

// Store implements certs.Remote.
func (r CertStorage) Store(ctx context.Context, key string, value []byte) error {
	return r.call(ctx, "store", key, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		_, err := c.PutCertData(ctx, &agentv1.PutCertDataRequest{Key: key, Value: value})
		return err
	})
}

// Delete implements certs.Remote; deleting a missing key is not an error.
func (r CertStorage) Delete(ctx context.Context, key string) error {
	err := r.call(ctx, "delete", key, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		_, err := c.DeleteCertData(ctx, &agentv1.DeleteCertDataRequest{Key: key})
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// List implements certs.Remote.
func (r CertStorage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	var keys []string
	err := r.call(ctx, "list", prefix, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		resp, err := c.ListCertData(ctx, &agentv1.ListCertDataRequest{Prefix: prefix, Recursive: recursive})
		keys = resp.GetKeys()
		return err
	})
	return keys, err
}

// Stat implements certs.Remote.
func (r CertStorage) Stat(ctx context.Context, key string) (certs.KeyInfo, error) {
	var info certs.KeyInfo
	err := r.call(ctx, "stat", key, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		resp, err := c.StatCertData(ctx, &agentv1.StatCertDataRequest{Key: key})
		if err == nil {
			info = certs.KeyInfo{Key: resp.GetKey(), Size: resp.GetSize(), IsTerminal: resp.GetTerminal()}
			if resp.GetModifyTime() != nil {
				info.Modified = resp.GetModifyTime().AsTime()
			}
		}
		return err
	})
	return info, err
}

// TryLock implements certs.Remote, with a lease of certLockTTL.
func (r CertStorage) TryLock(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := r.call(ctx, "lock", name, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		resp, err := c.LockCertData(ctx, &agentv1.LockCertDataRequest{Name: name, TtlSeconds: int32(certLockTTL / time.Second)})
		ok = resp.GetAcquired()
		return err
	})
	return ok, err
}

// Unlock implements certs.Remote.
func (r CertStorage) Unlock(ctx context.Context, name string) error {
	return r.call(ctx, "unlock", name, func(ctx context.Context, c agentv1.AgentServiceClient) error {
		_, err := c.UnlockCertData(ctx, &agentv1.UnlockCertDataRequest{Name: name})
		return err
	})
}

// SignCertificate implements certs.Signer: berthd's CA signs csrDER.
func (r CertStorage) SignCertificate(ctx context.Context, csrDER []byte) ([]byte, error) {
	var chain []byte
	err := r.call(ctx, "sign", "certificate", func(ctx context.Context, c agentv1.AgentServiceClient) error {
		resp, err := c.SignCertificate(ctx, &agentv1.SignCertificateRequest{CsrDer: csrDER})
		chain = resp.GetChainPem()
		return err
	})
	return chain, err
}
