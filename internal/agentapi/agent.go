package agentapi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/fleet"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// agentService implements agentv1.AgentServiceServer.
type agentService struct {
	*Server
	agentv1.UnimplementedAgentServiceServer
}

// maxProbeBatch bounds the probe results in one message.
const maxProbeBatch = 5000

var errJoinToken = status.Error(codes.Unauthenticated,
	"the join token is invalid, expired or already used: make a new one with `berth node join-token`")

// controlPlaneConditions are the site conditions the control plane owns;
// every other condition is the node's to report.
// Certificates is derived from the certificate status the node reports.
var controlPlaneConditions = []string{"Scheduled", "Deleting", "NodeReady", "Certificates"}

// NodeCondition reports whether a site condition of type typ is one its
// node reports, rather than one the control plane owns; NodeService drops
// them when a site leaves its node.
func NodeCondition(typ string) bool {
	return !slices.Contains(controlPlaneConditions, typ)
}

func (s agentService) Join(ctx context.Context, req *agentv1.JoinRequest) (*agentv1.JoinResponse, error) {
	if !auth.LooksLikeToken(req.GetJoinToken(), auth.JoinTokenPrefix) {
		return nil, errJoinToken
	}
	name := req.GetNodeName()
	if err := validate.LabelValue("node_name", name); err != nil {
		return nil, err
	}
	facts := req.GetFacts()
	if err := validateFacts(facts); err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(req.GetCsrDer())
	if err != nil || csr.CheckSignature() != nil {
		return nil, &validate.Error{Field: "csr_der", Msg: "is not a valid, signed PKCS #10 certificate request"}
	}
	now := s.now()
	node := &store.Node{
		ID: store.NewID("node", now), Name: name, State: store.NodeStateReady,
		CreateTime: now, LastHeartbeatTime: now,
	}
	applyFacts(node, facts)
	certDER, err := s.ca.SignClientCSR(req.GetCsrDer(), node.ID, s.nodeCertTTL, now)
	if err != nil {
		return nil, &validate.Error{Field: "csr_der", Msg: err.Error()}
	}
	rpc.SetResource(ctx, node.ID, "")
	rpc.SetPrincipal(ctx, &auth.Principal{Role: store.RoleNode, NodeID: node.ID})
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.ConsumeJoinToken(auth.HashToken(req.GetJoinToken()), now); errors.Is(err, store.ErrNotFound) {
			return errJoinToken
		} else if err != nil {
			return err
		}
		if err := tx.CreateNode(node); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, node.ID, "")
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("node joined", "node_id", node.ID, "node_name", name)
	return &agentv1.JoinResponse{NodeId: node.ID, CertificateDer: certDER, CaPem: s.ca.CertPEM()}, nil
}

func validateFacts(f *agentv1.NodeFacts) error {
	if f.GetCpuMillicores() <= 0 || f.GetMemoryMib() <= 0 {
		return &validate.Error{Field: "facts", Msg: "must report the node's CPU and memory"}
	}
	if len(f.GetLabels()) > 32 {
		return &validate.Error{Field: "facts.labels", Msg: "at most 32 labels"}
	}
	for k, v := range f.GetLabels() {
		if err := validate.LabelValue("facts.labels key", k); err != nil {
			return err
		}
		if err := validate.LabelValue("facts.labels["+k+"]", v); err != nil {
			return err
		}
	}
	if len(f.GetAgentVersion()) > 100 || len(f.GetDockerVersion()) > 100 || len(f.GetHostname()) > 255 {
		return &validate.Error{Field: "facts", Msg: "version or host name too long"}
	}
	return nil
}

func applyFacts(n *store.Node, f *agentv1.NodeFacts) {
	n.CPUMillicores, n.MemoryMiB, n.DiskMiB = f.GetCpuMillicores(), f.GetMemoryMib(), f.GetDiskMib()
	n.AgentVersion, n.DockerVersion = f.GetAgentVersion(), f.GetDockerVersion()
	n.Labels = maps.Clone(f.GetLabels())
}

func (s agentService) RenewCertificate(ctx context.Context, req *agentv1.RenewCertificateRequest) (*agentv1.RenewCertificateResponse, error) {
	p := auth.FromContext(ctx)
	rpc.SetResource(ctx, p.NodeID, "")
	certDER, err := s.ca.SignClientCSR(req.GetCsrDer(), p.NodeID, s.nodeCertTTL, s.now())
	if err != nil {
		return nil, &validate.Error{Field: "csr_der", Msg: err.Error()}
	}
	err = s.store.Update(ctx, func(tx store.Tx) error { return s.auditInTx(ctx, tx, p.NodeID, "") })
	if err != nil {
		return nil, err
	}
	return &agentv1.RenewCertificateResponse{CertificateDer: certDER}, nil
}

func (s agentService) Connect(stream agentv1.AgentService_ConnectServer) error {
	ctx := stream.Context()
	nodeID := auth.FromContext(ctx).NodeID
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "the first message of a session must be a hello")
	}
	if err := validateFacts(hello.GetFacts()); err != nil {
		return err
	}
	if addr := hello.GetEdgeAddress(); addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil || len(addr) > 255 {
			return &validate.Error{Field: "hello.edge_address", Value: addr, Msg: "must be host:port"}
		}
	}
	if err := s.nodeSeen(ctx, nodeID, hello.GetFacts(), hello.GetEdgeAddress()); err != nil {
		return err
	}
	log := s.log.With("node_id", nodeID)
	log.Info("node connected")
	defer log.Info("node disconnected")
	// Log readers reach the node through this stream while it lasts.
	sess := s.logs.Attach(nodeID)
	defer s.logs.Detach(nodeID, sess)

	ids, cancel := s.store.SubscribeSites()
	defer cancel()
	recvErr := make(chan error, 1)
	// acks carries the highest stored probe result seq to the sending loop.
	acks := make(chan uint64, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if err := s.handleAgentMessage(ctx, nodeID, msg, acks); err != nil {
				recvErr <- err
				return
			}
		}
	}()

	resync := time.NewTicker(s.watchResync)
	defer resync.Stop()
	var sent uint64
	for {
		ds, err := s.desiredState(ctx, nodeID)
		if err != nil {
			return err
		}
		if ds.Revision != sent {
			if err := stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_DesiredState{DesiredState: ds}}); err != nil {
				return err
			}
			sent = ds.Revision
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return rpc.ErrServerClosing
		case err := <-recvErr:
			return err
		case seq := <-acks:
			if err := stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_ProbeAck{ProbeAck: &agentv1.ProbeAck{Seq: seq}}}); err != nil {
				return err
			}
		case lr := <-sess.Requests:
			if err := stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_LogsRequest{LogsRequest: lr}}); err != nil {
				return err
			}
		case <-ids:
			// Coalesce a burst of changes into one recomputation.
			for len(ids) > 0 {
				<-ids
			}
		case <-resync.C:
		}
	}
}

// nodeSeen records a hello or heartbeat: facts (when given), the heartbeat
// time, and a NOT_READY node becoming READY again.
func (s agentService) nodeSeen(ctx context.Context, nodeID string, facts *agentv1.NodeFacts, edge string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.GetNode(nodeID)
		if err != nil {
			return err
		}
		if facts != nil {
			applyFacts(n, facts)
		}
		if edge != "" {
			n.EdgeAddress = edge
		}
		n.LastHeartbeatTime = s.now()
		if n.State == store.NodeStateNotReady {
			n.State = store.NodeStateReady
			if err := fleet.SetNodeReady(tx, n.ID, true, "node "+n.Name+" is heartbeating again", n.LastHeartbeatTime); err != nil {
				return err
			}
		}
		return tx.UpdateNode(n)
	})
}

func (s agentService) handleAgentMessage(ctx context.Context, nodeID string, msg *agentv1.ConnectRequest, acks chan uint64) error {
	switch m := msg.GetMsg().(type) {
	case *agentv1.ConnectRequest_ProbeResults:
		if s.monitor == nil {
			return nil
		}
		if n := len(m.ProbeResults.GetResults()); n > maxProbeBatch {
			return status.Errorf(codes.InvalidArgument, "%d probe results in one message; send at most %d", n, maxProbeBatch)
		}
		seq, err := s.monitor.Ingest(ctx, nodeID, m.ProbeResults.GetResults())
		if err != nil {
			return err
		}
		// Keep only the newest ack if the sender has not taken the last.
		select {
		case <-acks:
		default:
		}
		acks <- seq
		return nil
	case *agentv1.ConnectRequest_Heartbeat:
		return s.nodeSeen(ctx, nodeID, nil, "")
	case *agentv1.ConnectRequest_Status:
		for _, st := range m.Status.GetSites() {
			if err := s.applySiteStatus(ctx, nodeID, st); err != nil {
				return err
			}
		}
		return nil
	case *agentv1.ConnectRequest_Hello:
		return status.Error(codes.InvalidArgument, "hello may be sent only once per session")
	default:
		return status.Error(codes.InvalidArgument, "unknown message")
	}
}

// applySiteStatus records what a node observed of one of its own sites.
// Reports about sites placed elsewhere are ignored: a node reports only for
// itself.
func (s agentService) applySiteStatus(ctx context.Context, nodeID string, st *agentv1.SiteStatus) error {
	if validate.ID("site_id", "site", st.GetSiteId()) != nil {
		return nil
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		site, err := tx.GetSite(st.GetSiteId())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if site.NodeID != nodeID || st.GetObservedGeneration() < site.ObservedGeneration {
			return nil
		}
		now := s.now()
		if st.GetRemoved() {
			if site.State != store.SiteStateDeleting {
				return nil
			}
			if err := tx.DeleteSite(site.ID); err != nil {
				return err
			}
			return tx.AppendAuditEvent(&store.AuditEvent{ID: store.NewID("evt", now), Time: now, Actor: "node:" + nodeID,
				Method: "site removed from node", ResourceID: site.ID, ClientID: site.ClientID, Code: codes.OK.String()})
		}
		before := *site
		before.Conditions = slices.Clone(site.Conditions)
		if site.State != store.SiteStateDeleting {
			if state, ok := siteStateFromAgent(st.GetState()); ok {
				site.State = state
			}
		}
		site.ObservedGeneration = st.GetObservedGeneration()
		conds := slices.DeleteFunc(slices.Clone(site.Conditions), func(c store.Condition) bool {
			return NodeCondition(c.Type)
		})
		for _, c := range st.GetConditions() {
			if slices.Contains(controlPlaneConditions, c.GetType()) || len(conds) >= 16 {
				continue
			}
			conds = append(conds, conditionFromAgent(c))
		}
		site.Certificates = certificateStatuses(site, st.GetCertificates())
		conds = slices.DeleteFunc(conds, func(c store.Condition) bool { return c.Type == "Certificates" })
		if c, ok := certificateCondition(site.Certificates, now); ok {
			if i := slices.IndexFunc(before.Conditions, func(o store.Condition) bool { return o.Type == c.Type }); i >= 0 {
				if old := before.Conditions[i]; old.Status == c.Status && old.Message == c.Message {
					c.LastTransitionTime = old.LastTransitionTime
				}
			}
			conds = append(conds, c)
		}
		site.Conditions = conds
		if site.State == before.State && site.ObservedGeneration == before.ObservedGeneration &&
			slices.Equal(site.Conditions, before.Conditions) && slices.Equal(site.Certificates, before.Certificates) {
			return nil
		}
		site.UpdateTime = now
		return tx.UpdateSite(site)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// desiredState is everything the node should run, with a revision that
// changes whenever the content does.
func (s agentService) desiredState(ctx context.Context, nodeID string) (*agentv1.DesiredState, error) {
	ds := &agentv1.DesiredState{}
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		if s.monitor != nil {
			var err error
			if ds.Probes, err = s.monitor.Assignments(tx, nodeID); err != nil {
				return err
			}
		}
		for site, err := range store.AllSites(tx, store.SiteFilter{NodeID: nodeID}) {
			if err != nil {
				return err
			}
			var rel *store.Release
			if site.ReleaseID != "" {
				if rel, err = tx.GetRelease(site.ReleaseID); err != nil {
					return fmt.Errorf("release of site %s: %w", site.ID, err)
				}
			}
			ds.Sites = append(ds.Sites, assignment(site, rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("marshal desired state: %w", err)
	}
	h := fnv.New64a()
	h.Write(b)
	ds.Revision = h.Sum64() | 1 // never 0, which means "nothing applied"
	return ds, nil
}
