package agentapi_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestCertStorageIsolation: a node reaches the certificates of its own
// sites' domains and no others, and berthd signs only its development names.
func TestCertStorageIsolation(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	agent := agentv1.NewAgentServiceClient(s.dial(t, &f.nodeCert))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Client B's site is on no node: its key is out of reach.
	own, other := certKey(f.domain), certKey(f.otherDomain)
	if _, err := agent.PutCertData(ctx, &agentv1.PutCertDataRequest{Key: own, Value: []byte("own")}); err != nil {
		t.Fatal(err)
	}
	s.update(t, func(tx store.Tx) error {
		return tx.PutCertData(&store.CertData{Key: other, Value: []byte("other's key"), ModifyTime: time.Now()})
	})
	if _, err := agent.GetCertData(ctx, &agentv1.GetCertDataRequest{Key: other}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Get of another node's certificate: %v, want PermissionDenied", err)
	}
	if _, err := agent.PutCertData(ctx, &agentv1.PutCertDataRequest{Key: other, Value: []byte("x")}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Put of another node's certificate: %v, want PermissionDenied", err)
	}
	if _, err := agent.DeleteCertData(ctx, &agentv1.DeleteCertDataRequest{Key: "certificates"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Delete of every certificate: %v, want PermissionDenied", err)
	}
	got, err := agent.GetCertData(ctx, &agentv1.GetCertDataRequest{Key: own})
	if err != nil || string(got.GetValue()) != "own" {
		t.Errorf("Get own = %q, %v", got.GetValue(), err)
	}
	list, err := agent.ListCertData(ctx, &agentv1.ListCertDataRequest{Prefix: "certificates", Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if keys := list.GetKeys(); len(keys) != 1 || keys[0] != own {
		t.Errorf("List = %q, want only %q", keys, own)
	}

	// Locks exclude other holders.
	if r, err := agent.LockCertData(ctx, &agentv1.LockCertDataRequest{Name: "issue_cert_x", TtlSeconds: 60}); err != nil || !r.GetAcquired() {
		t.Fatalf("Lock = %v, %v", r, err)
	}
	s.update(t, func(tx store.Tx) error {
		ok, err := tx.AcquireCertLock("issue_cert_x", "node_other", time.Now(), time.Now().Add(time.Minute))
		if ok {
			t.Error("another owner took a held lock")
		}
		return err
	})

	// Signing: a development name of a site on this node only.
	resp, err := agent.SignCertificate(ctx, &agentv1.SignCertificateRequest{CsrDer: f.siteCSR})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(resp.GetChainPem())
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.ca.Pool(), DNSName: f.domain}); err != nil {
		t.Errorf("signed certificate does not verify for %s: %v", f.domain, err)
	}
	for name, csrNames := range map[string][]string{
		"another client's domain": {f.otherDomain},
		"a public name":           {"www.example.com"},
		"own and another's":       {f.domain, f.otherDomain},
	} {
		_, csr := csr(t, csrNames...)
		if _, err := agent.SignCertificate(ctx, &agentv1.SignCertificateRequest{CsrDer: csr}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("Sign %s: %v, want PermissionDenied", name, err)
		}
	}
}

// TestCertificateStatusCondition: a node's failed certificate shows in the
// site's certificates and as a Certificates=False condition with the CA's
// answer; success clears it.
func TestCertificateStatusCondition(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentServiceClient(s.dial(t, &f.nodeCert)).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: testFacts()}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	// report sends cs and waits until the site records it.
	report := func(cs *agentv1.CertificateStatus) *store.Site {
		t.Helper()
		err := stream.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Status{Status: &agentv1.SiteStatusReport{Sites: []*agentv1.SiteStatus{{
			SiteId: f.siteID, ObservedGeneration: 1, State: agentv1.SiteState_SITE_STATE_RUNNING,
			Certificates: []*agentv1.CertificateStatus{cs, {Domain: "not-this-sites.example.com", LastError: "ignored"}},
		}}}}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			var site *store.Site
			err := s.store.View(ctx, func(tx store.ReadTx) (err error) { site, err = tx.GetSite(f.siteID); return err })
			if err != nil {
				t.Fatal(err)
			}
			if len(site.Certificates) == 1 && site.Certificates[0].LastError == cs.GetLastError() && site.Certificates[0].NotAfter.Equal(cs.GetNotAfter().AsTime()) == (cs.GetNotAfter() != nil) {
				return site
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the site never recorded %v; certificates = %+v", cs, site.Certificates)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	condition := func(site *store.Site) store.Condition {
		for _, c := range site.Conditions {
			if c.Type == "Certificates" {
				return c
			}
		}
		t.Fatalf("no Certificates condition in %+v", site.Conditions)
		return store.Condition{}
	}
	const caErr = "urn:ietf:params:acme:error:connection: Fetching http://x/.well-known/acme-challenge/y: Connection refused"
	site := report(&agentv1.CertificateStatus{Domain: f.domain, Issuer: "acme:127.0.0.1:14000", LastError: caErr, Managed: true,
		LastAttemptTime: timestamppb.Now()})
	if len(site.Certificates) != 1 || site.Certificates[0].LastError != caErr {
		t.Fatalf("certificates = %+v", site.Certificates)
	}
	if c := condition(site); c.Status != "False" || c.Message != f.domain+": "+caErr {
		t.Errorf("condition = %+v", c)
	}
	site = report(&agentv1.CertificateStatus{Domain: f.domain, Issuer: "acme:127.0.0.1:14000", Managed: true,
		NotAfter: timestamppb.New(time.Now().Add(90 * 24 * time.Hour)), LastAttemptTime: timestamppb.Now()})
	if c := condition(site); c.Status != "True" {
		t.Errorf("condition after success = %+v", c)
	}
}
