package pebbletest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/mholt/acmez/v3/acme"
)

func TestStart(t *testing.T) {
	begin := time.Now()
	p := Start(t, Options{HTTPPort: 5002, TLSPort: 5001})
	t.Logf("Pebble ready in %s", time.Since(begin))

	// The directory answers over TLS that verifies against Roots alone.
	client := &http.Client{Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: p.Roots()},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(p.DirectoryURL())
	if err != nil {
		t.Fatalf("GET directory: %v", err)
	}
	defer resp.Body.Close()
	var dir map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		t.Fatalf("decode directory: %v", err)
	}
	if _, ok := dir["newOrder"].(string); !ok {
		t.Errorf("directory has no newOrder URL: %v", dir)
	}

	if n := p.Orders(); n != 0 {
		t.Errorf("Orders() = %d on a fresh Pebble, want 0", n)
	}

	// Orders counts each accepted newOrder, and only those.
	ctx := context.Background()
	ac := &acme.Client{Directory: p.DirectoryURL(), HTTPClient: client}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	account, err := ac.NewAccount(ctx, acmeAccount(key))
	if err != nil {
		t.Fatalf("new account: %v", err)
	}
	if n := p.Orders(); n != 0 {
		t.Errorf("Orders() = %d after creating an account, want 0", n)
	}
	for i, name := range []string{"one.example", "two.example"} {
		if _, err := ac.NewOrder(ctx, account, acmeOrder(name)); err != nil {
			t.Fatalf("new order %s: %v", name, err)
		}
		if n := p.Orders(); n != i+1 {
			t.Errorf("Orders() = %d after %d orders", n, i+1)
		}
	}
	if _, err := ac.NewOrder(ctx, account, acmeOrder("bad_name!.example")); err == nil {
		t.Errorf("Pebble accepted an order for an invalid name")
	}
	if n := p.Orders(); n != 2 {
		t.Errorf("Orders() = %d after a rejected order, want 2", n)
	}

	// RootsPEM is the listener CA followed by the issuing root, and
	// IssuerRoot holds only the latter.
	var certs []*x509.Certificate
	for rest := p.RootsPEM(); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		t.Fatalf("RootsPEM has %d certificates, want 2", len(certs))
	}
	if _, err := certs[1].Verify(x509.VerifyOptions{Roots: p.IssuerRoot()}); err != nil {
		t.Errorf("issuing root does not verify against IssuerRoot: %v", err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: p.IssuerRoot()}); err == nil {
		t.Errorf("listener CA verifies against IssuerRoot; want only the issuing root there")
	}

	// The DNS management API accepts records.
	p.SetA(t, "elsewhere.example", "127.0.0.2")
	p.ClearA(t, "elsewhere.example")
}

func acmeAccount(key *ecdsa.PrivateKey) acme.Account {
	return acme.Account{TermsOfServiceAgreed: true, PrivateKey: key}
}

func acmeOrder(name string) acme.Order {
	return acme.Order{Identifiers: []acme.Identifier{{Type: "dns", Value: name}}}
}
