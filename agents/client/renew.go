package client

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	renewTimeout = 30 * time.Second
	// maxRenewSleep bounds one wait for the renewal time, so that a clock
	// that jumps (suspend, NTP) delays renewal by at most this much.
	maxRenewSleep = time.Hour
)

// renewBackoff paces retries of a failed renewal.
var renewBackoff = backoff{min: 30 * time.Second, max: 30 * time.Minute}

// renewAt is when a certificate should be renewed: once less than a third
// of its lifetime remains.
func renewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life - life/3)
}

// renewLoop renews the node's certificate whenever it reaches renewAt, until
// ctx ends. Failures are logged and retried with backoff.
func (s *Session) renewLoop(ctx context.Context, client agentv1.AgentServiceClient) {
	log := s.opts.Log
	b := renewBackoff
	b.rand = s.opts.Rand
	failures := 0
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-s.opts.After(d):
			return true
		}
	}
	for {
		leaf := s.certs.get().Leaf
		if wait := renewAt(leaf).Sub(s.opts.Now()); wait > 0 {
			if !sleep(min(wait, maxRenewSleep)) {
				return
			}
			continue
		}
		err := s.renew(ctx, client)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			log.Info("renewed the node certificate", "not_after", s.certs.get().Leaf.NotAfter)
			continue
		}
		delay := b.delay(failures)
		failures++
		switch {
		case s.opts.Now().After(leaf.NotAfter):
			log.Error("cannot renew the node certificate, which has expired: berthd will refuse this node until it joins again", "err", err, "expired", leaf.NotAfter, "retry_in", delay)
		case failures == 1:
			log.Warn("cannot renew the node certificate; retrying", "err", err, "not_after", leaf.NotAfter, "retry_in", delay)
		default:
			log.Debug("cannot renew the node certificate; retrying", "err", err, "retry_in", delay)
		}
		if !sleep(delay) {
			return
		}
	}
}

// renew gets a certificate for a new key, saves both, and makes new
// connections use them.
func (s *Session) renew(ctx context.Context, client agentv1.AgentServiceClient) error {
	key, keyPEM, csr, err := newKeyAndCSR(s.opts.Identity.NodeID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	resp, err := client.RenewCertificate(ctx, &agentv1.RenewCertificateRequest{CsrDer: csr})
	if err != nil {
		return fmt.Errorf("renew certificate: %w", err)
	}
	cert, certPEM, err := clientCert(resp.GetCertificateDer(), key, s.opts.Identity.CAPool)
	if err != nil {
		return fmt.Errorf("renew certificate: berthd sent a bad certificate: %w", err)
	}
	if cn := cert.Leaf.Subject.CommonName; cn != s.opts.Identity.NodeID {
		return fmt.Errorf("renew certificate: it is for %q, not this node %q", cn, s.opts.Identity.NodeID)
	}
	if err := saveRenewed(s.opts.DataDir, keyPEM, certPEM); err != nil {
		return fmt.Errorf("renew certificate: %w", err)
	}
	s.certs.set(cert)
	return nil
}
