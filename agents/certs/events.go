package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// onEvent returns the certmagic.Config.OnEvent of the configuration whose
// certificates come from the issuer named issuer; it keeps Status current.
// certmagic calls it synchronously, so it does little and never blocks.
func (m *Manager) onEvent(issuer string) func(context.Context, string, map[string]any) error {
	return func(ctx context.Context, event string, data map[string]any) error {
		switch event {
		case "cert_obtaining":
			name, _ := data["identifier"].(string)
			m.update(normalize(name), func(s *DomainStatus) { s.LastAttempt, s.Issuer = time.Now(), issuer })

		case "cert_obtained":
			name, _ := data["identifier"].(string)
			name = normalize(name)
			certPath, _ := data["certificate_path"].(string)
			notAfter := m.storedNotAfter(ctx, certPath)
			m.mu.Lock()
			if d, ok := m.domains[name]; ok && d.status.Managed && !notAfter.IsZero() {
				// certmagic puts the certificate in its cache only after
				// this event (and tells nothing when a renewal replaces
				// one): Run watches the cache until it serves this one.
				d.awaiting, d.awaitSince = notAfter, time.Now()
				signal(m.settle)
			}
			m.mu.Unlock()
			if m.update(name, func(s *DomainStatus) { s.LastError, s.Issuer = "", issuer }) {
				renewal, _ := data["renewal"].(bool)
				m.log.InfoContext(ctx, "certificate obtained", "domain", name, "issuer", issuer,
					"renewal", renewal, "not_after", notAfter)
			}

		case "cert_failed":
			name, _ := data["identifier"].(string)
			name = normalize(name)
			err, _ := data["error"].(error)
			if err == nil {
				err = errors.New("unknown error")
			}
			text := errorText(err)
			if m.update(name, func(s *DomainStatus) { s.LastError, s.Issuer = text, issuer }) {
				m.log.WarnContext(ctx, "certificate attempt failed",
					"domain", name, "issuer", issuer, "err", text)
			}

		case "cached_managed_cert":
			sans, _ := data["sans"].([]string)
			for _, san := range sans {
				name := normalize(san)
				notAfter := m.cachedNotAfter(name)
				if !m.update(name, func(s *DomainStatus) { s.Issuer, s.NotAfter = issuer, notAfter }) {
					// Loaded by work that was under way when SetDomains
					// dropped the name: don't keep maintaining it.
					m.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: name}})
				}
			}
		}
		return nil
	}
}

// settleTimeout is how long Run watches the cache for a certificate just
// obtained before it gives up on it (certmagic failed to load it and logged
// why).
const settleTimeout = 30 * time.Second

// settleNotAfter updates NotAfter of the domains whose newly obtained
// certificate was not yet served, and reports whether some still wait.
func (m *Manager) settleNotAfter() (waiting bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for name, d := range m.domains {
		if d.awaiting.IsZero() {
			continue
		}
		served := m.cachedNotAfter(name)
		if !served.Equal(d.status.NotAfter) {
			d.status.NotAfter = served
			changed = true
		}
		if !served.Before(d.awaiting) || time.Since(d.awaitSince) > settleTimeout {
			d.awaiting = time.Time{}
			continue
		}
		waiting = true
	}
	if changed {
		signal(m.changed)
	}
	return waiting
}

// cachedNotAfter returns the latest expiry of the certificates cached (and
// so served) for exactly name.
func (m *Manager) cachedNotAfter(name string) time.Time {
	var latest time.Time
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && c.Leaf.NotAfter.After(latest) && hasName(c.Names, name) {
			latest = c.Leaf.NotAfter
		}
	}
	return latest
}

func hasName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// storedNotAfter reads the expiry of the certificate just stored at key from
// the local copy (it was written there first). Zero if it cannot.
func (m *Manager) storedNotAfter(ctx context.Context, key string) time.Time {
	if key == "" {
		return time.Time{}
	}
	b, err := m.storage.local.Load(ctx, key)
	if err != nil {
		return time.Time{}
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return time.Time{}
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}
	}
	return c.NotAfter
}

// errorText is what Status shows for a failed attempt: the CA's problem
// document (its type and detail, RFC 8555 §6.7) when there is one, else the
// error.
func errorText(err error) string {
	var p acme.Problem
	if !errors.As(err, &p) {
		return err.Error()
	}
	var b strings.Builder
	if t := strings.TrimPrefix(p.Type, acme.ProblemTypeNamespace); t != "" {
		b.WriteString(t + ": ")
	}
	if p.Detail != "" {
		b.WriteString(p.Detail)
	} else {
		b.WriteString(p.Title)
	}
	for _, sp := range p.Subproblems {
		b.WriteString("; " + strings.TrimPrefix(sp.Type, acme.ProblemTypeNamespace) + ": " + sp.Detail)
	}
	return b.String()
}
