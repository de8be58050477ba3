package api_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func TestJoin(t *testing.T) {
	s := newServer(t)
	admin := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+s.token(t, store.Token{Role: store.RoleAdmin}))
	jt, err := berthv1.NewNodeServiceClient(s.conn).CreateJoinToken(admin, &berthv1.CreateJoinTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	secret, caHash, ok := cutLast(jt.Token, ".")
	if !ok || caHash != api.JoinTokenCAHash(s.ca.Certificate()) {
		t.Fatalf("join token %q does not end with the CA hash", jt.Token)
	}
	if d := time.Until(jt.ExpireTime.AsTime()); d > 15*time.Minute || d < 14*time.Minute {
		t.Errorf("join token lives %v, want 15m", d)
	}
	agents := agentv1.NewAgentServiceClient(s.conn)
	_, csr := newCSR(t)
	ctx := context.Background()

	// Garbage CSR: refused, and the token is still usable.
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: secret, NodeName: "n1", CsrDer: []byte("garbage"), Facts: testFacts()})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("garbage CSR: %v, want InvalidArgument", err)
	}
	resp, err := agents.Join(ctx, &agentv1.JoinRequest{JoinToken: secret, NodeName: "n1", CsrDer: csr, Facts: testFacts()})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(resp.CertificateDer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: s.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate does not verify as a client certificate: %v", err)
	}
	if cert.Subject.CommonName != resp.NodeId {
		t.Errorf("certificate CN %q, want node id %q", cert.Subject.CommonName, resp.NodeId)
	}
	// Reused token.
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: secret, NodeName: "n2", CsrDer: csr, Facts: testFacts()})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("reused join token: %v, want Unauthenticated", err)
	}
	// Expired token.
	expiredSecret, hash := auth.NewToken(auth.JoinTokenPrefix)
	past := time.Now().Add(-time.Hour)
	s.update(t, func(tx store.Tx) error {
		return tx.CreateJoinToken(&store.JoinToken{ID: store.NewID("jt", past), Hash: hash, CreateTime: past, ExpireTime: past.Add(15 * time.Minute)})
	})
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: expiredSecret, NodeName: "n3", CsrDer: csr, Facts: testFacts()})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("expired join token: %v, want Unauthenticated", err)
	}
	// Malformed token and bad node name.
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: "berthjoin_short", NodeName: "n4", CsrDer: csr, Facts: testFacts()})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("malformed join token: %v, want Unauthenticated", err)
	}
	jt2, _ := berthv1.NewNodeServiceClient(s.conn).CreateJoinToken(admin, &berthv1.CreateJoinTokenRequest{})
	secret2, _, _ := cutLast(jt2.GetToken(), ".")
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: secret2, NodeName: "../n5", CsrDer: csr, Facts: testFacts()})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad node name: %v, want InvalidArgument", err)
	}
	_, err = agents.Join(ctx, &agentv1.JoinRequest{JoinToken: secret2, NodeName: "n1", CsrDer: csr, Facts: testFacts()})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("duplicate node name: %v, want AlreadyExists", err)
	}

	// The node is READY and listed.
	n, err := berthv1.NewNodeServiceClient(s.conn).GetNode(admin, &berthv1.GetNodeRequest{Id: resp.NodeId})
	if err != nil {
		t.Fatal(err)
	}
	if n.Node.State != berthv1.NodeState_NODE_STATE_READY || n.Node.Capacity.MemoryMib != 4096 {
		t.Errorf("joined node: %v", n.Node)
	}
	// Deleting the node revokes its certificate.
	nodeConn := s.dial(t, ptr(s.nodeCert(t, resp.NodeId)))
	if _, err := agentv1.NewAgentServiceClient(nodeConn).RenewCertificate(ctx, &agentv1.RenewCertificateRequest{CsrDer: csr}); err != nil {
		t.Fatalf("renew with a fresh node certificate: %v", err)
	}
	if _, err := berthv1.NewNodeServiceClient(s.conn).DeleteNode(admin, &berthv1.DeleteNodeRequest{Id: resp.NodeId}); err != nil {
		t.Fatal(err)
	}
	_, err = agentv1.NewAgentServiceClient(nodeConn).RenewCertificate(ctx, &agentv1.RenewCertificateRequest{CsrDer: csr})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("deleted node's certificate: %v, want Unauthenticated", err)
	}
}

func ptr[T any](v T) *T { return &v }

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// TestConnectScopesToOwnNode checks that a node receives only its own sites
// and cannot report status for another node's site.
func TestConnectScopesToOwnNode(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	now := time.Now().UTC()
	otherNode := store.NewID("node", now)
	s.update(t, func(tx store.Tx) error {
		if err := tx.CreateNode(&store.Node{ID: otherNode, Name: "other-" + f.seq, State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000, CreateTime: now}); err != nil {
			return err
		}
		a, err := tx.GetSite(f.a.siteID)
		if err != nil {
			return err
		}
		a.NodeID = f.nodeID
		a.Secrets = map[string]string{"db_password": "s3cret"}
		if err := tx.UpdateSite(a); err != nil {
			return err
		}
		b, err := tx.GetSite(f.b.siteID)
		if err != nil {
			return err
		}
		b.NodeID = otherNode
		return tx.UpdateSite(b)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentServiceClient(s.dial(t, &f.nodeCert)).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: testFacts()}}}); err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	ds := msg.GetDesiredState()
	if len(ds.GetSites()) != 1 || ds.Sites[0].SiteId != f.a.siteID || ds.Sites[0].Secrets["db_password"] != "s3cret" {
		t.Fatalf("desired state %v: want only site A with its secret", ds)
	}
	// Report status for both sites: only the node's own is applied.
	report := &agentv1.SiteStatusReport{Sites: []*agentv1.SiteStatus{
		{SiteId: f.a.siteID, ObservedGeneration: 1, State: agentv1.SiteState_SITE_STATE_RUNNING,
			Conditions: []*agentv1.Condition{{Type: "Ready", Status: "True", Reason: "Serving"}}},
		{SiteId: f.b.siteID, ObservedGeneration: 1, State: agentv1.SiteState_SITE_STATE_FAILED},
	}}
	if err := stream.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Status{Status: report}}); err != nil {
		t.Fatal(err)
	}
	// A spec change of site A reaches the node as a new desired state, which
	// also proves the status report before it was processed.
	adminCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.tokens[admin])
	watch, err := berthv1.NewSiteServiceClient(s.conn).WatchSite(adminCtx, &berthv1.WatchSiteRequest{Id: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	for {
		w, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if w.Site.State == berthv1.SiteState_SITE_STATE_RUNNING {
			break
		}
	}
	b, err := berthv1.NewSiteServiceClient(s.conn).GetSite(adminCtx, &berthv1.GetSiteRequest{Id: f.b.siteID})
	if err != nil {
		t.Fatal(err)
	}
	if b.Site.State != berthv1.SiteState_SITE_STATE_PENDING {
		t.Errorf("another node's site changed to %v by a foreign report", b.Site.State)
	}
	_, err = berthv1.NewSiteServiceClient(s.conn).UpdateSite(adminCtx, &berthv1.UpdateSiteRequest{
		Site: &berthv1.Site{Id: f.a.siteID, Resources: &berthv1.Resources{MemoryMib: 300}}, UpdateMask: mask("resources.memory_mib")})
	if err != nil {
		t.Fatal(err)
	}
	msg, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.GetDesiredState().GetSites()[0]; got.Generation != 2 || got.Resources.MemoryMib != 300 {
		t.Errorf("after update the node got %v, want generation 2 with 300 MiB", got)
	}
}
