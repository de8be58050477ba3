package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc/rpctest"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Principals of the matrix.
const (
	none    = "none"
	expired = "expired"
	revoked = "revoked"
	admin   = "admin"
	clientA = "clientA"
	clientB = "clientB"
	node    = "node"
)

var principals = []string{none, expired, revoked, admin, clientA, clientB, node}

const password = "correct horse battery staple"

var passwordHash = func() string {
	h, err := auth.HashPassword(password)
	if err != nil {
		panic(err)
	}
	return h
}()

// fixture is a fresh set of resources for one cell of the matrix: client A
// with a static site placed on the node, two releases of it, an unplaced
// WordPress site, a user and a token; client B with an unplaced site, a user and a token; an empty client;
// the node; a spare node with no sites.
type fixture struct {
	tokens      map[string]string // principal → secret
	a, b        tenant
	emptyID     string
	nodeID      string
	spareNodeID string
	bundle      []byte // a valid release bundle
	adminTok    string
	seq         string
	nodeCert    tls.Certificate
}

type tenant struct {
	clientID, slug, siteID, domain, userID, email, tokenID string
	// releaseID is the release the site serves, oldReleaseID an older one
	// (client A only).
	releaseID, oldReleaseID string
	// wpSiteID is a WordPress site with generated credentials, wpDomain its
	// domain (client A only).
	wpSiteID, wpDomain string
	// incidentID, windowID and channelID are an incident and a maintenance
	// window of the site, and an alert channel of the client (A only).
	incidentID, windowID, channelID string
}

var fixtureSeq atomic.Int64

func newFixture(t *testing.T, s *server) *fixture {
	t.Helper()
	now := time.Now().UTC()
	n := fixtureSeq.Add(1)
	f := &fixture{tokens: map[string]string{}, seq: fmt.Sprint(n)}
	mk := func(name string) tenant {
		tn := tenant{
			clientID: store.NewID("cl", now), slug: fmt.Sprintf("%s-%d", name, n),
			siteID: store.NewID("site", now), domain: fmt.Sprintf("www.%s-%d.test", name, n),
			userID: store.NewID("usr", now), email: fmt.Sprintf("owner@%s-%d.test", name, n),
			tokenID: store.NewID("tok", now),
		}
		s.update(t, func(tx store.Tx) error {
			if err := tx.CreateClient(&store.Client{ID: tn.clientID, DisplayName: name, Slug: tn.slug, ContactEmail: tn.email, CreateTime: now, UpdateTime: now}); err != nil {
				return err
			}
			if err := tx.CreateSite(&store.Site{ID: tn.siteID, ClientID: tn.clientID, Name: "web", Kind: store.SiteKindStatic,
				PrimaryDomain: tn.domain, MemoryMiB: 128, CPUMillicores: 100, State: store.SiteStatePending, Generation: 1,
				CreateTime: now, UpdateTime: now}); err != nil {
				return err
			}
			return tx.CreateUser(&store.User{ID: tn.userID, Email: tn.email, Role: store.RoleClient, ClientID: tn.clientID,
				PasswordHash: passwordHash, CreateTime: now, UpdateTime: now})
		})
		s.token(t, store.Token{ID: tn.tokenID, Name: "ci", Role: store.RoleClient, ClientID: tn.clientID})
		return tn
	}
	f.a, f.b = mk("alpha"), mk("bravo")
	f.a.wpSiteID, f.a.wpDomain = store.NewID("site", now), fmt.Sprintf("wp.alpha-%d.test", n)
	s.update(t, func(tx store.Tx) error {
		return tx.CreateSite(&store.Site{ID: f.a.wpSiteID, ClientID: f.a.clientID, Name: "wordpress", Kind: store.SiteKindWordPress,
			PrimaryDomain: f.a.wpDomain, MemoryMiB: 256, CPUMillicores: 500, WPTitle: "Alpha Blog", WPAdminEmail: f.a.email,
			Secrets: map[string]string{"db_password": "fixtureDatabasePassword" + f.seq, "admin_password": "fixtureAdminPassword" + f.seq},
			State:   store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now})
	})
	f.emptyID = store.NewID("cl", now)
	f.nodeID = store.NewID("node", now)
	f.spareNodeID = store.NewID("node", now)
	s.update(t, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: f.emptyID, DisplayName: "Empty", Slug: "empty-" + f.seq, ContactEmail: "e@empty.test", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateNode(&store.Node{ID: f.spareNodeID, Name: "spare-" + f.seq, State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000, CreateTime: now}); err != nil {
			return err
		}
		return tx.CreateNode(&store.Node{ID: f.nodeID, Name: "node-" + f.seq, State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000, CreateTime: now})
	})
	// A's site runs on the node and serves the newer of two releases.
	f.bundle = tarGz(t, map[string]string{"index.html": "<h1>alpha " + f.seq + "</h1>"})
	f.a.oldReleaseID = s.release(t, f.a.siteID, f.bundle).ID
	f.a.releaseID = s.release(t, f.a.siteID, f.bundle).ID
	s.update(t, func(tx store.Tx) error {
		site, err := tx.GetSite(f.a.siteID)
		if err != nil {
			return err
		}
		site.NodeID, site.State, site.ReleaseID = f.nodeID, store.SiteStateProvisioning, f.a.releaseID
		return tx.UpdateSite(site)
	})
	f.a.incidentID, f.a.windowID, f.a.channelID = store.NewID("inc", now), store.NewID("mw", now), store.NewID("ach", now)
	s.update(t, func(tx store.Tx) error {
		if err := tx.CreateIncident(&store.Incident{ID: f.a.incidentID, SiteID: f.a.siteID, ClientID: f.a.clientID,
			Start: now.Add(-time.Hour), End: now.Add(-50 * time.Minute), ErrorClasses: []string{"timeout"}, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateMaintenanceWindow(&store.MaintenanceWindow{ID: f.a.windowID, SiteID: f.a.siteID,
			Start: now, End: now.Add(time.Hour), Reason: "upgrade", CreatedBy: "test", CreateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateAlertChannel(&store.AlertChannel{ID: f.a.channelID, ClientID: f.a.clientID, Name: "hook", Kind: "webhook",
			Config: map[string]string{"url": "http://127.0.0.1:9/hook"}, CreateTime: now}); err != nil {
			return err
		}
		// A publishes a status page of its static site; B's is off.
		c, err := tx.GetClient(f.a.clientID)
		if err != nil {
			return err
		}
		c.StatusPage = store.StatusPage{Enabled: true, SiteIDs: []string{f.a.siteID}, Logo: pngLogo}
		return tx.UpdateClient(c)
	})
	f.nodeCert = s.nodeCert(t, f.nodeID)
	f.tokens[admin] = s.token(t, store.Token{Role: store.RoleAdmin})
	f.tokens[expired] = s.token(t, store.Token{Role: store.RoleAdmin, ExpireTime: now.Add(-time.Minute)})
	f.tokens[revoked] = s.token(t, store.Token{Role: store.RoleAdmin, RevokeTime: now.Add(-time.Minute)})
	// Client principals are login sessions of the clients' users.
	f.tokens[clientA] = s.token(t, store.Token{Kind: store.TokenKindSession, Role: store.RoleClient, ClientID: f.a.clientID, UserID: f.a.userID, ExpireTime: now.Add(time.Hour)})
	f.tokens[clientB] = s.token(t, store.Token{Kind: store.TokenKindSession, Role: store.RoleClient, ClientID: f.b.clientID, UserID: f.b.userID, ExpireTime: now.Add(time.Hour)})
	// An admin change to client A, so that the audit log holds A's events.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.tokens[admin])
	_, err := berthv1.NewClientServiceClient(s.conn).UpdateClient(ctx, &berthv1.UpdateClientRequest{
		Client:     &berthv1.Client{Id: f.a.clientID, DisplayName: "Alpha renamed"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pngLogo passes for a PNG image: http.DetectContentType reads the signature.
var pngLogo = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// secrets of tenant A that no response to client B may contain.
func (tn tenant) secrets() []string {
	s := []string{tn.clientID, tn.slug, tn.siteID, tn.domain, tn.userID, tn.email, tn.tokenID}
	if tn.incidentID != "" {
		s = append(s, tn.incidentID, tn.windowID, tn.channelID)
	}
	if tn.releaseID != "" {
		s = append(s, tn.releaseID, tn.oldReleaseID)
	}
	if tn.wpSiteID != "" {
		s = append(s, tn.wpSiteID, tn.wpDomain, "fixtureAdminPassword")
	}
	return s
}

// matrixRow is the request and expected outcome of one RPC for each principal.
type matrixRow struct {
	req func(f *fixture) proto.Message
	// more are the messages sent after req on a client stream.
	more func(f *fixture) []proto.Message
	// want maps principals to codes; unlisted unauthenticated principals
	// expect Unauthenticated.
	want map[string]codes.Code
}

// adminOnly expects OK for admins and PermissionDenied for client principals.
func adminOnly(req func(f *fixture) proto.Message) matrixRow {
	return matrixRow{req: req, want: map[string]codes.Code{admin: codes.OK, clientA: codes.PermissionDenied, clientB: codes.PermissionDenied}}
}

// scopedToA expects admins and client A to succeed and client B to be told NotFound.
func scopedToA(req func(f *fixture) proto.Message) matrixRow {
	return matrixRow{req: req, want: map[string]codes.Code{admin: codes.OK, clientA: codes.OK, clientB: codes.NotFound}}
}

// public expects success for every caller, with or without a credential.
func public(req func(f *fixture) proto.Message) matrixRow {
	want := map[string]codes.Code{}
	for _, p := range principals {
		want[p] = codes.OK
	}
	return matrixRow{req: req, want: want}
}

// published are what public methods show of client A to anyone: its status
// page names its site's domain.
var published = map[string][]string{
	berthv1.StatusPageService_GetStatusPage_FullMethodName: {"domain"},
}

// everyone expects success for every authenticated principal.
func everyone(req func(f *fixture) proto.Message) matrixRow {
	return matrixRow{req: req, want: map[string]codes.Code{admin: codes.OK, clientA: codes.OK, clientB: codes.OK}}
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

var matrix = map[string]matrixRow{
	"/berth.v1.AuthService/Login": {
		req: func(f *fixture) proto.Message {
			return &berthv1.LoginRequest{Email: f.a.email, Password: password}
		},
		want: map[string]codes.Code{none: codes.OK, expired: codes.OK, revoked: codes.OK, admin: codes.OK, clientA: codes.OK, clientB: codes.OK, node: codes.OK},
	},
	"/berth.v1.AuthService/Logout": {
		req:  func(f *fixture) proto.Message { return &berthv1.LogoutRequest{} },
		want: map[string]codes.Code{admin: codes.FailedPrecondition, clientA: codes.OK, clientB: codes.OK},
	},
	"/berth.v1.AuthService/ChangePassword": {
		req: func(f *fixture) proto.Message {
			return &berthv1.ChangePasswordRequest{CurrentPassword: password, NewPassword: "another long password"}
		},
		want: map[string]codes.Code{admin: codes.FailedPrecondition, clientA: codes.OK, clientB: codes.OK},
	},
	"/berth.v1.AuthService/WhoAmI": everyone(func(f *fixture) proto.Message { return &berthv1.WhoAmIRequest{} }),

	"/berth.v1.ClientService/CreateClient": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateClientRequest{Client: &berthv1.Client{DisplayName: "New", Slug: "new-" + f.seq, ContactEmail: "ops@new.test"}}
	}),
	"/berth.v1.ClientService/GetClient": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.GetClientRequest{Id: f.a.clientID}
	}),
	"/berth.v1.ClientService/ListClients": everyone(func(f *fixture) proto.Message { return &berthv1.ListClientsRequest{} }),
	"/berth.v1.ClientService/UpdateClient": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.UpdateClientRequest{Client: &berthv1.Client{Id: f.a.clientID, DisplayName: "Changed"}, UpdateMask: mask("display_name")}
	}),
	"/berth.v1.ClientService/DeleteClient": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.DeleteClientRequest{Id: f.emptyID}
	}),

	"/berth.v1.SiteService/CreateSite": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: f.a.clientID, Name: "shop", Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: "shop-" + f.seq + ".test"}}
	}),
	"/berth.v1.SiteService/GetSite": scopedToA(func(f *fixture) proto.Message { return &berthv1.GetSiteRequest{Id: f.a.siteID} }),
	"/berth.v1.SiteService/ListSites": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.ListSitesRequest{ClientId: f.a.clientID}
	}),
	"/berth.v1.SiteService/UpdateSite": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.UpdateSiteRequest{Site: &berthv1.Site{Id: f.a.siteID, Resources: &berthv1.Resources{MemoryMib: 512}}, UpdateMask: mask("resources.memory_mib")}
	}),
	"/berth.v1.SiteService/DeleteSite": adminOnly(func(f *fixture) proto.Message { return &berthv1.DeleteSiteRequest{Id: f.a.siteID} }),
	"/berth.v1.SiteService/WatchSite":  scopedToA(func(f *fixture) proto.Message { return &berthv1.WatchSiteRequest{Id: f.a.siteID} }),
	"/berth.v1.SiteService/GetSiteCredentials": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.GetSiteCredentialsRequest{Id: f.a.wpSiteID}
	}),

	"/berth.v1.NodeService/ListNodes":  adminOnly(func(f *fixture) proto.Message { return &berthv1.ListNodesRequest{} }),
	"/berth.v1.NodeService/GetNode":    adminOnly(func(f *fixture) proto.Message { return &berthv1.GetNodeRequest{Id: f.nodeID} }),
	"/berth.v1.NodeService/DrainNode":  adminOnly(func(f *fixture) proto.Message { return &berthv1.DrainNodeRequest{Id: f.nodeID} }),
	"/berth.v1.NodeService/DeleteNode": adminOnly(func(f *fixture) proto.Message { return &berthv1.DeleteNodeRequest{Id: f.spareNodeID} }),
	"/berth.v1.NodeService/CreateJoinToken": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateJoinTokenRequest{Ttl: durationpb.New(10 * time.Minute)}
	}),

	"/berth.v1.UserService/CreateUser": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateUserRequest{User: &berthv1.User{Email: "new-" + f.seq + "@alpha.test", Role: berthv1.Role_ROLE_CLIENT, ClientId: f.a.clientID}, Password: password}
	}),
	"/berth.v1.UserService/GetUser":    adminOnly(func(f *fixture) proto.Message { return &berthv1.GetUserRequest{Id: f.a.userID} }),
	"/berth.v1.UserService/ListUsers":  adminOnly(func(f *fixture) proto.Message { return &berthv1.ListUsersRequest{} }),
	"/berth.v1.UserService/DeleteUser": adminOnly(func(f *fixture) proto.Message { return &berthv1.DeleteUserRequest{Id: f.a.userID} }),

	"/berth.v1.TokenService/CreateToken": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.CreateTokenRequest{Token: &berthv1.Token{Name: "deploy", Role: berthv1.Role_ROLE_CLIENT, ClientId: f.a.clientID}}
	}),
	"/berth.v1.TokenService/ListTokens":  everyone(func(f *fixture) proto.Message { return &berthv1.ListTokensRequest{IncludeRevoked: true} }),
	"/berth.v1.TokenService/RevokeToken": scopedToA(func(f *fixture) proto.Message { return &berthv1.RevokeTokenRequest{Id: f.a.tokenID} }),

	"/berth.v1.AuditService/ListAuditEvents": everyone(func(f *fixture) proto.Message {
		return &berthv1.ListAuditEventsRequest{PageSize: 1000}
	}),

	"/berth.v1.ReleaseService/CreateRelease": {
		req: func(f *fixture) proto.Message {
			return &berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Header{Header: &berthv1.ReleaseUploadHeader{SiteId: f.a.siteID}}}
		},
		more: func(f *fixture) []proto.Message {
			return []proto.Message{&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: f.bundle}}}
		},
		want: map[string]codes.Code{admin: codes.OK, clientA: codes.OK, clientB: codes.NotFound},
	},
	"/berth.v1.ReleaseService/ListReleases": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.ListReleasesRequest{SiteId: f.a.siteID}
	}),
	"/berth.v1.ReleaseService/ActivateRelease": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.ActivateReleaseRequest{SiteId: f.a.siteID, ReleaseId: f.a.oldReleaseID}
	}),
	"/berth.v1.ReleaseService/DeleteRelease": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.DeleteReleaseRequest{SiteId: f.a.siteID, ReleaseId: f.a.oldReleaseID}
	}),

	// The fixture's node has no Connect stream open, so readers who may see
	// the site are told that it is not running on a connected node
	// (logs_test.go covers the happy path).
	"/berth.v1.LogService/GetSiteLogs": {
		req:  func(f *fixture) proto.Message { return &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID} },
		want: map[string]codes.Code{admin: codes.FailedPrecondition, clientA: codes.FailedPrecondition, clientB: codes.NotFound},
	},

	// The node contract's methods are in agentapi's matrix.

	"/berth.v1.UptimeService/GetSiteUptime": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.GetSiteUptimeRequest{SiteId: f.a.siteID}
	}),
	// One of A's sites in the batch is enough for B to be told NotFound.
	"/berth.v1.UptimeService/BatchGetSiteStatus": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.BatchGetSiteStatusRequest{SiteIds: []string{f.a.siteID, f.a.wpSiteID}}
	}),
	// Lists are scoped to the caller's client: B gets an empty list.
	"/berth.v1.UptimeService/ListIncidents": everyone(func(f *fixture) proto.Message { return &berthv1.ListIncidentsRequest{} }),
	"/berth.v1.UptimeService/GetIncident": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.GetIncidentRequest{Id: f.a.incidentID}
	}),
	"/berth.v1.UptimeService/GetSLAReport": scopedToA(func(f *fixture) proto.Message {
		return &berthv1.GetSLAReportRequest{ClientId: f.a.clientID, Month: "2026-11"}
	}),
	"/berth.v1.UptimeService/ListMaintenanceWindows": everyone(func(f *fixture) proto.Message {
		return &berthv1.ListMaintenanceWindowsRequest{}
	}),
	"/berth.v1.UptimeService/CreateMaintenanceWindow": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateMaintenanceWindowRequest{Window: &berthv1.MaintenanceWindow{SiteId: f.a.siteID,
			StartTime: timestamppb.Now(), EndTime: timestamppb.New(time.Now().Add(time.Hour)), Reason: "upgrade"}}
	}),
	"/berth.v1.UptimeService/DeleteMaintenanceWindow": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.DeleteMaintenanceWindowRequest{Id: f.a.windowID}
	}),

	"/berth.v1.AlertService/CreateAlertChannel": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.CreateAlertChannelRequest{Channel: &berthv1.AlertChannel{ClientId: f.a.clientID, Name: "ops hook",
			Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK, Url: "http://127.0.0.1:9/hook"}}
	}),
	"/berth.v1.AlertService/ListAlertChannels": adminOnly(func(f *fixture) proto.Message { return &berthv1.ListAlertChannelsRequest{} }),
	"/berth.v1.AlertService/DeleteAlertChannel": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.DeleteAlertChannelRequest{Id: f.a.channelID}
	}),
	// The channel points at a closed loopback port: the delivery fails,
	// the call succeeds and records it.
	"/berth.v1.AlertService/TestAlertChannel": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.TestAlertChannelRequest{Id: f.a.channelID}
	}),
	"/berth.v1.AlertService/ListAlertDeliveries": adminOnly(func(f *fixture) proto.Message {
		return &berthv1.ListAlertDeliveriesRequest{}
	}),

	// A's page is published; statuspage_test.go covers unpublished ones.
	"/berth.v1.StatusPageService/GetStatusPage": public(func(f *fixture) proto.Message {
		return &berthv1.GetStatusPageRequest{Slug: f.a.slug}
	}),
	"/berth.v1.StatusPageService/GetStatusPageLogo": public(func(f *fixture) proto.Message {
		return &berthv1.GetStatusPageLogoRequest{Slug: f.a.slug}
	}),
}

func testFacts() *agentv1.NodeFacts {
	return &agentv1.NodeFacts{Hostname: "test", CpuMillicores: 2000, MemoryMib: 4096, AgentVersion: "test"}
}

// berthMethods lists every RPC of the berth.v1 package from the compiled

// TestAuthorizationMatrix calls every RPC as every kind of principal and
// checks the status code, and that client B never receives client A's data.
func TestAuthorizationMatrix(t *testing.T) {
	s := newServer(t)
	for _, md := range rpctest.Methods(t, "berth.v1", 25) {
		method := rpctest.FullMethod(md)
		row, ok := matrix[method]
		if !ok {
			t.Errorf("%s has no row in the authorization matrix: add one", method)
			continue
		}
		for _, p := range principals {
			want, ok := row.want[p]
			switch {
			case ok:
			case p == node:
				want = codes.PermissionDenied
			default:
				want = codes.Unauthenticated
			}
			t.Run(strings.TrimPrefix(method, "/berth.v1.")+"/"+p, func(t *testing.T) {
				f := newFixture(t, s)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if tok := f.tokens[p]; tok != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
				}
				conn := s.conn
				if p == node {
					conn = s.dial(t, &f.nodeCert)
				}
				var more []proto.Message
				if row.more != nil {
					more = row.more(f)
				}
				resp, err := call(ctx, conn, md, row.req(f), more...)
				if got := status.Code(err); got != want {
					t.Fatalf("code = %v (%v), want %v", got, err, want)
				}
				// Login is the one call that does not act as the caller: whoever
				// holds A's password is A.
				if p == clientB && method != berthv1.AuthService_Login_FullMethodName {
					var body string
					if resp != nil {
						body = protojson.Format(resp)
					}
					body += status.Convert(err).Message()
					for _, secret := range f.a.secretsExcept(published[method]...) {
						if strings.Contains(body, secret) && !requestNames(row.req(f), secret) {
							t.Errorf("client B received client A's %q:\n%s", secret, body)
						}
					}
				}
			})
		}
	}
}

// secretsExcept is secrets without the named fields ("domain").
func (tn tenant) secretsExcept(fields ...string) []string {
	s := tn.secrets()
	for _, f := range fields {
		if f == "domain" {
			s = slices.DeleteFunc(s, func(v string) bool { return v == tn.domain })
		}
	}
	return s
}

// requestNames reports whether the request itself carried value, in which
// case echoing it back (as "site X not found") discloses nothing.
func requestNames(req proto.Message, value string) bool {
	return strings.Contains(protojson.Format(req), value)
}

// call invokes any method with req (and on client streams the more
// messages after it) and returns its (first) response. Bidirectional
// streams are left open for sending.
func call(ctx context.Context, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, req proto.Message, more ...proto.Message) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil, err
	}
	resp := mt.New().Interface()
	if !md.IsStreamingServer() && !md.IsStreamingClient() {
		return resp, conn.Invoke(ctx, rpctest.FullMethod(md), req, resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: md.IsStreamingServer(), ClientStreams: md.IsStreamingClient()}, rpctest.FullMethod(md))
	if err != nil {
		return nil, err
	}
	for _, m := range append([]proto.Message{req}, more...) {
		// io.EOF: the server ended the call; RecvMsg tells how.
		if err := stream.SendMsg(m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
	}
	if !md.IsStreamingClient() || !md.IsStreamingServer() {
		if err := stream.CloseSend(); err != nil {
			return nil, err
		}
	}
	return resp, stream.RecvMsg(resp)
}

// TestDeniedCallsAreAudited checks that a client's attempt on another
// client's site is in the audit log, filed under the caller's client.
func TestDeniedCallsAreAudited(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctxB := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.tokens[clientB])
	_, err := berthv1.NewSiteServiceClient(s.conn).GetSite(ctxB, &berthv1.GetSiteRequest{Id: f.a.siteID})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetSite of another client's site: %v, want NotFound", err)
	}
	_, err = berthv1.NewNodeServiceClient(s.conn).ListNodes(ctxB, &berthv1.ListNodesRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("ListNodes as client: %v, want PermissionDenied", err)
	}
	_, err = berthv1.NewClientServiceClient(s.conn).ListClients(context.Background(), &berthv1.ListClientsRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("ListClients without token: %v, want Unauthenticated", err)
	}

	ctxAdmin := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.tokens[admin])
	resp, err := berthv1.NewAuditServiceClient(s.conn).ListAuditEvents(ctxAdmin, &berthv1.ListAuditEventsRequest{FailedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*berthv1.AuditEvent{}
	for _, e := range resp.Events {
		got[e.Method+" "+e.Code] = e
	}
	for key, wantClient := range map[string]string{
		"/berth.v1.SiteService/GetSite NotFound":              f.b.clientID,
		"/berth.v1.NodeService/ListNodes PermissionDenied":    f.b.clientID,
		"/berth.v1.ClientService/ListClients Unauthenticated": "",
	} {
		e, ok := got[key]
		if !ok {
			t.Errorf("no audit event %q among %d failed events", key, len(resp.Events))
			continue
		}
		if e.ClientId != wantClient {
			t.Errorf("%s: client_id = %q, want %q", key, e.ClientId, wantClient)
		}
	}
	if e := got["/berth.v1.SiteService/GetSite NotFound"]; e != nil && e.ResourceId != f.a.siteID {
		t.Errorf("denied GetSite: resource_id = %q, want %q", e.ResourceId, f.a.siteID)
	}
}
