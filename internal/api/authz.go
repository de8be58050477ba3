package api

import (
	"github.com/fixaroo/berth/internal/rpc"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Rules returns the authorization table of the public API: every RPC of
// berth.v1 has exactly one row, and the rpc.Gate denies an RPC without a row
// (TestEveryMethodHasARule keeps it complete). Finer rules (a client
// principal reads only its own client's resources) are applied by the
// handlers, which answer NotFound for what the caller may not see. The node
// contract's rules are agentapi.Rules.
func Rules() rpc.Rules {
	return rules
}

var rules = rpc.Rules{
	berthv1.AuthService_Login_FullMethodName:          {Access: rpc.Public, Mutates: true},
	berthv1.AuthService_Logout_FullMethodName:         {Access: rpc.Authenticated, Mutates: true},
	berthv1.AuthService_ChangePassword_FullMethodName: {Access: rpc.Authenticated, Mutates: true},
	berthv1.AuthService_WhoAmI_FullMethodName:         {Access: rpc.Authenticated},

	berthv1.ClientService_CreateClient_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.ClientService_GetClient_FullMethodName:    {Access: rpc.AdminOrClient},
	berthv1.ClientService_ListClients_FullMethodName:  {Access: rpc.AdminOrClient},
	berthv1.ClientService_UpdateClient_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.ClientService_DeleteClient_FullMethodName: {Access: rpc.Admin, Mutates: true},

	berthv1.SiteService_CreateSite_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.SiteService_GetSite_FullMethodName:    {Access: rpc.AdminOrClient},
	berthv1.SiteService_ListSites_FullMethodName:  {Access: rpc.AdminOrClient},
	berthv1.SiteService_UpdateSite_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.SiteService_DeleteSite_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.SiteService_WatchSite_FullMethodName:  {Access: rpc.AdminOrClient},
	// Reading the WordPress admin password records that it was shown (it is
	// shown once), so the call mutates and is audited.
	berthv1.SiteService_GetSiteCredentials_FullMethodName: {Access: rpc.Admin, Mutates: true},

	berthv1.NodeService_ListNodes_FullMethodName:       {Access: rpc.Admin},
	berthv1.NodeService_GetNode_FullMethodName:         {Access: rpc.Admin},
	berthv1.NodeService_DrainNode_FullMethodName:       {Access: rpc.Admin, Mutates: true},
	berthv1.NodeService_DeleteNode_FullMethodName:      {Access: rpc.Admin, Mutates: true},
	berthv1.NodeService_CreateJoinToken_FullMethodName: {Access: rpc.Admin, Mutates: true},

	berthv1.UserService_CreateUser_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.UserService_GetUser_FullMethodName:    {Access: rpc.Admin},
	berthv1.UserService_ListUsers_FullMethodName:  {Access: rpc.Admin},
	berthv1.UserService_DeleteUser_FullMethodName: {Access: rpc.Admin, Mutates: true},

	berthv1.TokenService_CreateToken_FullMethodName: {Access: rpc.AdminOrClient, Mutates: true},
	berthv1.TokenService_ListTokens_FullMethodName:  {Access: rpc.AdminOrClient},
	berthv1.TokenService_RevokeToken_FullMethodName: {Access: rpc.AdminOrClient, Mutates: true},

	berthv1.AuditService_ListAuditEvents_FullMethodName: {Access: rpc.AdminOrClient},

	// Clients deploy and roll back their own static sites; the handlers
	// answer NotFound for other clients' sites.
	berthv1.ReleaseService_CreateRelease_FullMethodName:   {Access: rpc.AdminOrClient, Mutates: true},
	berthv1.ReleaseService_ListReleases_FullMethodName:    {Access: rpc.AdminOrClient},
	berthv1.ReleaseService_ActivateRelease_FullMethodName: {Access: rpc.AdminOrClient, Mutates: true},
	berthv1.ReleaseService_DeleteRelease_FullMethodName:   {Access: rpc.Admin, Mutates: true},

	// Clients read their own sites' logs; the handler answers NotFound for
	// other clients' sites.
	berthv1.LogService_GetSiteLogs_FullMethodName: {Access: rpc.AdminOrClient},

	// Clients read their own sites' uptime, incidents, reports and
	// maintenance windows; the handlers answer NotFound for others.
	berthv1.UptimeService_GetSiteUptime_FullMethodName:           {Access: rpc.AdminOrClient},
	berthv1.UptimeService_BatchGetSiteStatus_FullMethodName:      {Access: rpc.AdminOrClient},
	berthv1.UptimeService_ListIncidents_FullMethodName:           {Access: rpc.AdminOrClient},
	berthv1.UptimeService_GetIncident_FullMethodName:             {Access: rpc.AdminOrClient},
	berthv1.UptimeService_GetSLAReport_FullMethodName:            {Access: rpc.AdminOrClient},
	berthv1.UptimeService_ListMaintenanceWindows_FullMethodName:  {Access: rpc.AdminOrClient},
	berthv1.UptimeService_CreateMaintenanceWindow_FullMethodName: {Access: rpc.Admin, Mutates: true},
	berthv1.UptimeService_DeleteMaintenanceWindow_FullMethodName: {Access: rpc.Admin, Mutates: true},

	berthv1.AlertService_CreateAlertChannel_FullMethodName:  {Access: rpc.Admin, Mutates: true},
	berthv1.AlertService_ListAlertChannels_FullMethodName:   {Access: rpc.Admin},
	berthv1.AlertService_DeleteAlertChannel_FullMethodName:  {Access: rpc.Admin, Mutates: true},
	berthv1.AlertService_TestAlertChannel_FullMethodName:    {Access: rpc.Admin, Mutates: true},
	berthv1.AlertService_ListAlertDeliveries_FullMethodName: {Access: rpc.Admin},

	// Status pages are for the clients' customers: anyone may read a
	// published page, and the handlers answer NotFound alike for unknown
	// slugs and unpublished pages. Reads, so not audited: anonymous callers
	// cannot fill the audit log.
	berthv1.StatusPageService_GetStatusPage_FullMethodName:     {Access: rpc.Public},
	berthv1.StatusPageService_GetStatusPageLogo_FullMethodName: {Access: rpc.Public},
}
