package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func clientToProto(c *store.Client) *berthv1.Client {
	return &berthv1.Client{
		Id: c.ID, DisplayName: c.DisplayName, Slug: c.Slug, ContactEmail: c.ContactEmail,
		CreateTime: ts(c.CreateTime), UpdateTime: ts(c.UpdateTime), StatusPage: statusPageToProto(c.StatusPage),
	}
}

var siteKinds = map[store.SiteKind]berthv1.SiteKind{
	store.SiteKindWordPress: berthv1.SiteKind_SITE_KIND_WORDPRESS,
	store.SiteKindStatic:    berthv1.SiteKind_SITE_KIND_STATIC,
}

var siteStates = map[store.SiteState]berthv1.SiteState{
	store.SiteStatePending:      berthv1.SiteState_SITE_STATE_PENDING,
	store.SiteStateProvisioning: berthv1.SiteState_SITE_STATE_PROVISIONING,
	store.SiteStateRunning:      berthv1.SiteState_SITE_STATE_RUNNING,
	store.SiteStateFailed:       berthv1.SiteState_SITE_STATE_FAILED,
	store.SiteStateDeleting:     berthv1.SiteState_SITE_STATE_DELETING,
}

func siteStateFromProto(s berthv1.SiteState) (store.SiteState, bool) {
	for k, v := range siteStates {
		if v == s {
			return k, true
		}
	}
	return "", false
}

func siteToProto(s *store.Site) *berthv1.Site {
	p := &berthv1.Site{
		Id: s.ID, ClientId: s.ClientID, Name: s.Name, Kind: siteKinds[s.Kind],
		PrimaryDomain: s.PrimaryDomain, AliasDomains: append([]string(nil), s.AliasDomains...),
		Resources: &berthv1.Resources{MemoryMib: s.MemoryMiB, CpuMillicores: s.CPUMillicores},
		NodeId:    s.NodeID, State: siteStates[s.State],
		Generation: s.Generation, ObservedGeneration: s.ObservedGeneration,
		CreateTime: ts(s.CreateTime), UpdateTime: ts(s.UpdateTime),
		ReleaseId: s.ReleaseID,
		Hsts:      s.HSTS, RedirectAliases: s.RedirectAliases,
	}
	if s.CheckIntervalSeconds != 0 || s.CheckExpectedStatus != 0 || s.CheckKeyword != "" {
		p.UptimeCheck = &berthv1.UptimeCheck{IntervalSeconds: s.CheckIntervalSeconds, ExpectedStatus: s.CheckExpectedStatus, Keyword: s.CheckKeyword}
	}
	for _, c := range s.Certificates {
		cs := &berthv1.CertificateStatus{Domain: c.Domain, Issuer: c.Issuer, LastError: c.LastError, Managed: c.Managed}
		if !c.NotAfter.IsZero() {
			cs.NotAfter = ts(c.NotAfter)
		}
		if !c.LastAttempt.IsZero() {
			cs.LastAttemptTime = ts(c.LastAttempt)
		}
		p.Certificates = append(p.Certificates, cs)
	}
	if s.Kind == store.SiteKindWordPress {
		p.Wordpress = &berthv1.WordPressSpec{Title: s.WPTitle, AdminEmail: s.WPAdminEmail}
	}
	for _, c := range s.Conditions {
		p.Conditions = append(p.Conditions, &berthv1.Condition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
			LastTransitionTime: ts(c.LastTransitionTime),
		})
	}
	return p
}

var nodeStates = map[store.NodeState]berthv1.NodeState{
	store.NodeStateReady:    berthv1.NodeState_NODE_STATE_READY,
	store.NodeStateNotReady: berthv1.NodeState_NODE_STATE_NOT_READY,
	store.NodeStateDraining: berthv1.NodeState_NODE_STATE_DRAINING,
}

func nodeToProto(n *store.Node, sites []*store.Site) *berthv1.Node {
	p := &berthv1.Node{
		Id: n.ID, Name: n.Name, State: nodeStates[n.State],
		Capacity:          &berthv1.NodeCapacity{MemoryMib: n.MemoryMiB, CpuMillicores: n.CPUMillicores, DiskMib: n.DiskMiB},
		Allocated:         &berthv1.NodeCapacity{},
		Labels:            n.Labels,
		AgentVersion:      n.AgentVersion,
		DockerVersion:     n.DockerVersion,
		LastHeartbeatTime: ts(n.LastHeartbeatTime),
		CreateTime:        ts(n.CreateTime),
		SiteCount:         int32(len(sites)),
	}
	for _, s := range sites {
		p.Allocated.MemoryMib += int64(s.MemoryMiB)
		p.Allocated.CpuMillicores += s.CPUMillicores
	}
	return p
}

var roles = map[store.Role]berthv1.Role{
	store.RoleAdmin:  berthv1.Role_ROLE_ADMIN,
	store.RoleClient: berthv1.Role_ROLE_CLIENT,
}

func roleFromProto(r berthv1.Role) (store.Role, bool) {
	for k, v := range roles {
		if v == r {
			return k, true
		}
	}
	return "", false
}

func userToProto(u *store.User) *berthv1.User {
	return &berthv1.User{Id: u.ID, Email: u.Email, Role: roles[u.Role], ClientId: u.ClientID, CreateTime: ts(u.CreateTime)}
}

func tokenToProto(t *store.Token) *berthv1.Token {
	return &berthv1.Token{
		Id: t.ID, Name: t.Name, Role: roles[t.Role], ClientId: t.ClientID, UserId: t.UserID,
		CreateTime: ts(t.CreateTime), ExpireTime: ts(t.ExpireTime),
		LastUsedTime: ts(t.LastUsedTime), RevokeTime: ts(t.RevokeTime),
	}
}

func auditEventToProto(e *store.AuditEvent) *berthv1.AuditEvent {
	return &berthv1.AuditEvent{
		Id: e.ID, Time: ts(e.Time), Actor: e.Actor, Method: e.Method, ResourceId: e.ResourceID,
		ClientId: e.ClientID, Code: e.Code, Message: e.Message, Peer: e.Peer,
	}
}
